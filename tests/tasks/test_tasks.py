"""Synthetic tasks: batch layout, determinism, decoding and the length metric."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pebench import tasks
from pebench.errors import PebenchError
from pebench.tasks.metrics import LengthAccuracy
from pebench.tasks.synthetic.s2s_copy import FiniteSeq2SeqTask
from pebench.tasks.synthetic.sequence import IGNORE, SEP, TAPE, SequenceTask

TASKS = sorted(
    name
    for name, cls in tasks.available().items()
    # the finite-dataset tasks (the copy family, SCAN) have tests of their own
    if issubclass(cls, SequenceTask) and not issubclass(cls, FiniteSeq2SeqTask)
)


def test_targets() -> None:
    x = torch.tensor([[3, 4, 5]])
    assert tasks.get("copy")().target(x).tolist() == [[3, 4, 5]]
    assert tasks.get("reverse")().target(x).tolist() == [[5, 4, 3]]
    assert tasks.get("duplicate")().target(x).tolist() == [[3, 4, 5, 3, 4, 5]]


def test_decoder_batch_layout() -> None:
    batch = tasks.get("reverse")(formulation="decoder").make_batch(torch.tensor([[3, 4, 5]]))
    assert batch["inputs"].tolist() == [[3, 4, 5, SEP, 5, 4]]
    assert batch["targets"].tolist() == [[IGNORE, IGNORE, IGNORE, 5, 4, 3]]


def test_encoder_batch_layout() -> None:
    batch = tasks.get("reverse")(formulation="encoder").make_batch(torch.tensor([[3, 4, 5]]))
    assert batch["inputs"].tolist() == [[3, 4, 5, SEP, TAPE, TAPE, TAPE]]
    assert batch["targets"].tolist() == [[IGNORE] * 4 + [5, 4, 3]]


def _take(loader, n: int) -> list[dict[str, torch.Tensor]]:
    out = []
    for batch in loader:
        out.append(batch)
        if len(out) == n:
            break
    return out


def test_data_is_deterministic_per_seed() -> None:
    task = tasks.get("copy")(train_lengths=(2, 9))
    a = _take(task.datamodule(8, seed=1).train_dataloader(), 5)
    b = _take(task.datamodule(8, seed=1).train_dataloader(), 5)
    c = _take(task.datamodule(8, seed=2).train_dataloader(), 5)
    assert all(torch.equal(x["inputs"], y["inputs"]) for x, y in zip(a, b, strict=True))
    assert any(not torch.equal(x["inputs"], y["inputs"]) for x, y in zip(a, c, strict=True))
    assert {batch["x"].shape[1] for batch in a} <= set(range(2, 10))


def test_eval_set_covers_every_length() -> None:
    task = tasks.get("copy")(train_lengths=(1, 4), eval_lengths=(1, 8), eval_samples=5)
    batches = list(task.datamodule(4, seed=0).val_dataloader())
    lengths = [b["x"].shape[1] for b in batches]
    assert sorted(set(lengths)) == list(range(1, 9))
    assert sum(b["x"].shape[0] for b in batches) == 8 * 5


def oracle(task: SequenceTask, wrong_from: int | None = None):
    """A 'model' that outputs the right answer, optionally wrong from output index on."""

    def model(tokens: torch.Tensor) -> torch.Tensor:
        n = int((tokens[0] == SEP).nonzero()[0])
        y = task.target(tokens[:, :n])
        if wrong_from is not None:
            y[:, wrong_from:] = (y[:, wrong_from:] - 3 + 1) % task.alphabet_size + 3
        logits = torch.zeros(*tokens.shape, task.vocab_size)
        if task.formulation == "encoder":
            logits[:, n + 1 :] = F.one_hot(y, task.vocab_size).float()
        else:
            start = n
            visible = min(tokens.shape[1] - start, y.shape[1])
            logits[:, start : start + visible] = F.one_hot(y[:, :visible], task.vocab_size).float()
        return logits

    return model


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("formulation", ["decoder", "encoder"])
def test_perfect_model_scores_one(name: str, formulation: str) -> None:
    task = tasks.get(name)(formulation=formulation, train_lengths=(1, 3), eval_lengths=(1, 6))
    metric = task.build_metric()
    for batch in task.datamodule(4, seed=0).val_dataloader():
        task.evaluate(oracle(task), batch, metric)
    summary = task.results(metric)["summary"]
    assert summary == pytest.approx(
        {"id_token_accuracy": 1, "id_exact_match": 1, "ood_token_accuracy": 1, "ood_exact_match": 1}
    )


@pytest.mark.parametrize("formulation", ["decoder", "encoder"])
def test_model_wrong_past_third_symbol(formulation: str) -> None:
    task = tasks.get("copy")(formulation=formulation, train_lengths=(1, 4), eval_lengths=(1, 6))
    metric = task.build_metric()
    for batch in task.datamodule(8, seed=0).val_dataloader():
        task.evaluate(oracle(task, wrong_from=3), batch, metric)
    per_length = task.results(metric)["per_length"]
    assert per_length["3"]["exact_match"] == 1.0
    assert per_length["5"]["exact_match"] == 0.0
    assert per_length["5"]["token_accuracy"] == pytest.approx(3 / 5)


def test_length_accuracy_aggregates_by_length() -> None:
    metric = LengthAccuracy(max_length=4, train_max_length=2)
    ones = torch.ones(1, 4, dtype=torch.bool)
    # length 1: right; length 2: half right; length 4 (OOD): wrong everywhere
    metric.update(
        torch.tensor([[5, 0, 0, 0]]),
        torch.tensor([[5, 0, 0, 0]]),
        torch.tensor([1]),
        torch.tensor([[True, False, False, False]]),
    )
    metric.update(
        torch.tensor([[5, 6, 0, 0]]),
        torch.tensor([[5, 7, 0, 0]]),
        torch.tensor([2]),
        torch.tensor([[True, True, False, False]]),
    )
    metric.update(
        torch.tensor([[1, 1, 1, 1]]), torch.tensor([[2, 2, 2, 2]]), torch.tensor([4]), ones
    )
    out = {k: v.item() for k, v in metric.compute().items()}
    assert out == pytest.approx(
        {
            "id_token_accuracy": 0.75,
            "id_exact_match": 0.5,
            "ood_token_accuracy": 0.0,
            "ood_exact_match": 0.0,
        }
    )
    assert sorted(metric.per_length()) == [1, 2, 4]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"train_lengths": (5, 2)}, "train_lengths"),
        ({"eval_lengths": (0, 3)}, "eval_lengths"),
        ({"formulation": "seq2seq"}, "formulation"),
        ({"alphabet_size": 1}, "alphabet_size"),
    ],
)
def test_bad_task_options_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(PebenchError, match=message):
        tasks.get("copy")(**kwargs)


def test_unknown_task_suggests_closest() -> None:
    with pytest.raises(PebenchError, match="did you mean 'reverse'"):
        tasks.get("revers")


def test_mapped_copy_applies_one_fixed_permutation() -> None:
    task = tasks.get("mapped_copy")(alphabet_size=6, mapping_seed=4)
    again = tasks.get("mapped_copy")(alphabet_size=6, mapping_seed=4)
    assert sorted(task.permutation.tolist()) == list(range(6))
    assert torch.equal(task.permutation, again.permutation)
    x = torch.arange(3, 9).repeat(2, 1)  # every symbol, twice
    y = task.target(x)
    assert y.tolist()[0] == [int(task.permutation[s - 3]) + 3 for s in range(3, 9)]
    assert y.shape == x.shape and not torch.equal(y, x)  # seed 4 is not the identity


def test_tasks_in_subpackages_are_registered_and_old_paths_still_resolve(tmp_path) -> None:
    """Tasks are grouped by kind (synthetic/, text/, lm/); a run's config.yaml written before
    the move names ``pebench.tasks.copy.Copy``, which still resolves and still resumes."""
    from pebench.benchmark.run.outputs import check_same_config
    from pebench.tasks.lm.passkey import Passkey
    from pebench.tasks.synthetic.copy import Copy

    assert tasks.get("copy") is Copy and tasks.get("passkey") is Passkey
    assert tasks.get("pebench.tasks.copy.Copy") is Copy
    with pytest.raises(PebenchError, match="cannot import module 'pebench.tasks.nowhere'"):
        tasks.get("pebench.tasks.nowhere.Copy")
    (tmp_path / "config.yaml").write_text("task:\n  class_path: pebench.tasks.copy.Copy\n")
    check_same_config(tmp_path, "task:\n  class_path: pebench.tasks.synthetic.copy.Copy\n")
    with pytest.raises(PebenchError, match="was made with task.class_path"):
        reverse = "task:\n  class_path: pebench.tasks.synthetic.reverse.Reverse\n"
        check_same_config(tmp_path, reverse)
