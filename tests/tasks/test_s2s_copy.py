"""The Kazemnejad et al. 2023 copy family: their data semantics, scoring with <eos>, and
training end to end."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from pebench import encodings, tasks
from pebench.benchmark.leaderboard.table import task_columns
from pebench.benchmark.run.record import RunRecord
from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
from pebench.benchmark.run.train import train
from pebench.errors import PebenchError
from pebench.tasks.synthetic.s2s_copy import EOS, FIRST, WORDS, S2SCopyTask, token
from pebench.tasks.synthetic.sequence import IGNORE, SEP

FAMILY = sorted(n for n, c in tasks.available().items() if issubclass(c, S2SCopyTask))


def test_family_is_registered() -> None:
    assert FAMILY == ["cmc", "rdc", "rsc", "rsc2x"]


@pytest.mark.parametrize("name", FAMILY)
def test_splits_follow_the_authors_builder(name: str) -> None:
    task = tasks.get(name)()
    splits = task.splits()
    lo, hi = task.train_lengths
    assert len(splits["train"]) == 10_000
    per_length = int(1.15 * 10_000 / (hi - lo + 1))
    assert task.per_length == per_length
    lengths = Counter(len(x) for _, x, _ in splits["train"] + splits["validation"])
    assert sorted(lengths) == list(range(lo, hi + 1))
    test_lengths = Counter(len(x) for _, x, _ in splits["test"])
    assert sorted(test_lengths) == list(range(hi + 1, 2 * hi + 1))
    assert set(test_lengths.values()) == {min(per_length, 2_000 // hi)}
    assert all(max(x + y) < task.alphabet_size for _, x, y in splits["test"])
    assert splits == task.splits()  # one dataset for every run (data_seed)


def test_cmc_copies_strings_over_100_symbols() -> None:
    splits = tasks.get("cmc")().splits()
    symbols = {s for _, x, _ in splits["train"] for s in x}
    assert symbols == set(range(100))
    assert all(x == y and prompt == [WORDS["Copy"], WORDS[":"]] for prompt, x, y in splits["train"])


def test_rsc_and_rsc2x_repeat_the_first_symbols() -> None:
    rsc = tasks.get("rsc")()
    for _, x, y in rsc.splits()["train"]:
        assert len(set(x)) == 1 and x == y and x[0] < rsc.per_length
    pool = rsc.splits()
    train = {(x[0], len(x)) for _, x, _ in pool["train"]}
    assert not train & {(x[0], len(x)) for _, x, _ in pool["validation"]}
    rsc2x = tasks.get("rsc2x")()
    assert rsc2x.train_lengths == (1, 15) and rsc2x.eval_lengths == (1, 30)
    assert all(y == x * 2 for _, x, y in rsc2x.splits()["test"])


def test_rdc_prompt_names_both_symbols() -> None:
    task = tasks.get("rdc")()
    k = task.symbols_needed(task.per_length)
    assert k * (k - 1) <= task.per_length < (k + 1) * k
    for prompt, x, y in task.splits()["validation"]:
        a, b = x[0], y[0]
        assert a != b and x == [a] * len(x) and y == [b] * len(x)
        assert prompt == [WORDS["Replace"], token(a), WORDS["with"], token(b), WORDS["in"]]


def test_training_batches_score_only_the_answer_and_eos() -> None:
    task = tasks.get("cmc")(num_train=200, num_test=20)
    examples = task.splits()["train"][:3]
    batch = task.collate(examples)
    for row, (prompt, x, y) in enumerate(examples):
        n = len(prompt) + len(x)
        assert batch["inputs"][row, n] == SEP
        scored = batch["targets"][row][batch["targets"][row] != IGNORE].tolist()
        assert scored == [s + FIRST for s in y] + [EOS]
        # the token before each scored target is its predecessor in the sequence
        assert batch["inputs"][row, : n].tolist() == prompt + [s + FIRST for s in x]


class Oracle:
    """A "model" that decodes the right answer, optionally without the final <eos>."""

    def __init__(self, task: S2SCopyTask, drop_eos: bool = False) -> None:
        self.answers = {}
        for split in task.splits().values():
            for ex in split:
                self.answers[tuple(task.source(ex))] = task.answer(ex)
        self.drop_eos = drop_eos

    def greedy(self, prefix: torch.Tensor, steps: int) -> torch.Tensor:
        rows = []
        for row in prefix.tolist():
            answer = list(self.answers[tuple(row[:-1])])
            if self.drop_eos:
                answer[-1] = answer[0]  # keeps writing instead of stopping
            rows.append(answer[:steps])
        return torch.tensor(rows)


@pytest.mark.parametrize("name", FAMILY)
def test_exact_match_needs_the_answer_then_eos(name: str) -> None:
    task = tasks.get(name)(num_train=1000, num_test=60)
    splits = task.splits()
    for drop_eos, expected in ((False, 1.0), (True, 0.0)):
        model = Oracle(task, drop_eos)
        for split, prefix in (("validation", "id"), ("test", "ood")):
            metric = task.build_metric()
            for batch in task.eval_batches(splits[split], 16):
                task.evaluate(model, batch, metric)
            assert task.results(metric)["summary"][f"{prefix}_exact_match"] == expected


def test_invalid_options_fail_with_one_line() -> None:
    with pytest.raises(PebenchError, match="test_max 20 must exceed"):
        tasks.get("cmc")(test_max=20)
    with pytest.raises(PebenchError, match="leaves none for validation"):
        tasks.get("rdc")(num_train=200).splits()


@pytest.mark.parametrize("name", FAMILY)
@pytest.mark.parametrize("encoding", ["none", "t5", "sinusoidal", "rope"])
def test_fast_dev_run(tmp_path: Path, name: str, encoding: str) -> None:
    run = RunSpec(
        task=tasks.get(name)(train_lengths=(1, 4), num_train=400, num_test=16),
        encoding=encodings.get(encoding),
        model=ModelConfig(
            d_model=16, num_layers=1, num_heads=2, d_ff=32, activation="relu", norm="rmsnorm",
            bias=False, dropout=0.1,
        ),
        train=TrainConfig(progress=False, accelerator="cpu", batch_size=8, max_steps=3),
        output_dir=tmp_path / "run",
    )
    metrics = train(run).as_json()
    assert metrics["monitor"] == "id_exact_match"
    assert set(metrics["summary"]) == {"id_token_accuracy", "id_exact_match"}
    assert set(metrics["test"]["summary"]) == {"ood_token_accuracy", "ood_exact_match"}
    assert sorted(map(int, metrics["test"]["per_length"])) == list(range(5, 9))
    assert metrics["split_sizes"]["train"] == 400


def test_leaderboard_reads_id_from_validation_and_ood_from_test() -> None:
    class Plan:
        metric, direction = "id_exact_match", "maximize"

        class task:  # noqa: N801 - stands in for a TaskEntry
            name = "cmc"

    runs = [
        RunRecord.from_json({
            "task": "cmc", "encoding": "rope", "seed": 1, "summary": {"id_exact_match": 0.9},
            "test": {"summary": {"ood_exact_match": 0.1}},
        })
    ]  # fmt: skip
    columns = task_columns(Plan(), runs)
    assert [(c.label, c.where, c.key, c.primary) for c in columns] == [
        ("ID", "summary", "id_exact_match", False),
        ("OOD", "test", "ood_exact_match", True),
    ]
