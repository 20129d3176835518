"""Passkey retrieval: the generator's layout, the decoder batch, and the (length, depth) grid
scored against oracle models."""

from __future__ import annotations

import pytest
import torch

from pebench.errors import PebenchError
from pebench.tasks.lm.passkey import IGNORE, KEY, QUERY, Passkey


def sample(task: Passkey, n: int, depths: list[float], seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return task.sample(len(depths), n, torch.tensor(depths), gen)


def test_key_block_sits_at_its_depth_in_filler() -> None:
    task = Passkey(key_length=3, filler_size=5)
    s = sample(task, 20, [0.0, 0.5, 1.0])
    haystack, keys = s["haystack"], s["key"]
    for row, start in enumerate([0, 8, 16]):  # round(d·(20 − 3 − 1))
        assert haystack[row, start] == KEY and (haystack[row] == KEY).sum() == 1
        assert torch.equal(haystack[row, start + 1 : start + 4], keys[row])
        rest = torch.cat([haystack[row, :start], haystack[row, start + 4 :]])
        assert ((rest >= task.first_filler) & (rest < task.vocab_size)).all()
    assert ((keys >= 3) & (keys < 13)).all()


def test_decoder_batch_reads_haystack_then_query_and_predicts_the_key() -> None:
    task = Passkey(key_length=4)
    s = sample(task, 12, [0.25, 0.75])
    batch = task.make_batch(s)
    assert batch["inputs"].shape == (2, 12 + 1 + 3)
    assert (batch["inputs"][:, 12] == QUERY).all()
    assert (batch["targets"][:, :12] == IGNORE).all()
    assert torch.equal(batch["targets"][:, 12:], s["key"])


class Oracle(torch.nn.Module):
    """Copies the key from the haystack, if the key block starts within the last ``reach``
    tokens before the query (``None``: any distance); otherwise answers digit 3."""

    def __init__(self, task: Passkey, reach: int | None = None) -> None:
        super().__init__()
        self.task, self.reach = task, reach

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(*sequence.shape, self.task.vocab_size)
        for row, seq in enumerate(sequence):
            query = int((seq == QUERY).nonzero()[0])
            start = int((seq[:query] == KEY).nonzero()[0])
            emitted = len(seq) - 1 - query
            visible = self.reach is None or query - start <= self.reach
            answer = int(seq[start + 1 + emitted]) if visible else 3
            logits[row, -1, answer] = 1.0
        return logits


def grid_results(task: Passkey, model: torch.nn.Module) -> dict:
    metric = task.build_metric()
    for batch in task.datamodule(batch_size=8, seed=1).val_dataloader():
        task.evaluate(model, batch, metric)
    return task.results(metric)


def test_oracle_retrieves_everywhere_and_a_short_reach_fails_deep_keys() -> None:
    task = Passkey(key_length=3, train_lengths=(8, 16), eval_lengths=[16, 64],
                   depths=[0.0, 1.0], eval_samples=4)
    perfect = grid_results(task, Oracle(task))
    assert perfect["grid"]["accuracy"] == [[1.0, 1.0], [1.0, 1.0]]
    assert perfect["summary"] == {"id_accuracy": 1.0, "ood_accuracy": 1.0}
    near = grid_results(task, Oracle(task, reach=20))
    # depth 1 puts the key right before the query; depth 0 at 16 is 16 tokens back (seen),
    # at 64 it is 64 tokens back (missed unless the 3-digit key happens to start with 3)
    assert near["grid"]["accuracy"][0] == [1.0, 1.0]
    assert near["grid"]["accuracy"][1][1] == 1.0
    assert near["grid"]["accuracy"][1][0] < 0.5
    assert near["per_length"]["64"]["by_depth"]["0.0"] == near["grid"]["accuracy"][1][0]


def test_evaluation_set_is_fixed_per_seed_and_covers_the_grid() -> None:
    task = Passkey(eval_lengths=[16, 32], depths=[0.0, 0.5], eval_samples=2)
    a = list(task.datamodule(batch_size=8, seed=3).val_dataloader())
    b = list(task.datamodule(batch_size=8, seed=3).val_dataloader())
    assert [(x["length"], x["depth"]) for x in a] == [(16, 0.0), (16, 0.5), (32, 0.0), (32, 0.5)]
    assert all(torch.equal(x["haystack"], y["haystack"]) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"depths": [1.5]}, "depths"),
        ({"key_length": 8, "train_lengths": (8, 16)}, "key_length"),
        ({"eval_samples": 0}, "at least 1"),
    ],
)
def test_bad_options_are_clear_errors(options: dict, message: str) -> None:
    with pytest.raises(PebenchError, match=message):
        Passkey(**options)


def test_passkey_trains_end_to_end_and_writes_the_grid(tmp_path) -> None:
    from pebench import encodings
    from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
    from pebench.benchmark.run.train import train

    spec = RunSpec(
        task=Passkey(key_length=2, train_lengths=(6, 10), eval_lengths=[8, 16],
                     depths=[0.0, 1.0], eval_samples=2),
        encoding=encodings.get("alibi"),
        model=ModelConfig(d_model=16, num_layers=1, num_heads=2),
        train=TrainConfig(progress=False, accelerator="cpu", batch_size=4, max_steps=3),
        output_dir=tmp_path / "run",
    )
    metrics = train(spec).as_json()
    assert set(metrics["summary"]) == {"id_accuracy", "ood_accuracy"}
    assert metrics["grid"]["lengths"] == [8, 16] and len(metrics["grid"]["accuracy"]) == 2


def test_lengths_past_a_learned_table_are_not_applicable() -> None:
    task = Passkey(key_length=3, train_lengths=(8, 16), eval_lengths=[16, 64],
                   depths=[0.0, 1.0], eval_samples=2)
    oracle = Oracle(task)
    oracle.encoding = type("Enc", (), {"max_positions": 32})()
    results = grid_results(task, oracle)
    assert results["grid"]["accuracy"] == [[1.0, 1.0], [None, None]]
    assert results["per_length"]["64"]["accuracy"] is None
    assert results["summary"] == {"id_accuracy": 1.0, "ood_accuracy": None}
