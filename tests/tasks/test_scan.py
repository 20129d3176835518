"""SCAN pinned to Lake & Baroni 2018: the grammar's 20,910 commands, their interpretation
(checked against an interpreter written independently from the paper's rules and against
the paper's own example), and the length splits' sizes."""

from __future__ import annotations

from collections import Counter

import pytest

from pebench import tasks
from pebench.tasks.scan.grammar import commands

TURN = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}


def interpret(command: str) -> list[str]:
    """The paper's interpretation rules, applied to the words right to left."""
    if " after " in command:
        first, second = command.split(" after ")
        return interpret(second) + interpret(first)
    if " and " in command:
        first, second = command.split(" and ")
        return interpret(first) + interpret(second)
    words = command.split()
    if words[-1] in ("twice", "thrice"):
        return interpret(" ".join(words[:-1])) * (2 if words[-1] == "twice" else 3)
    act = [] if words[0] == "turn" else ["I_" + words[0].upper()]
    if len(words) == 1:
        return act
    turn = TURN[words[-1]]
    if words[1] == "opposite":
        return [turn, turn, *act]
    if words[1] == "around":
        return [turn, *act] * 4
    return [turn, *act]


def test_the_grammar_holds_exactly_scans_commands() -> None:
    pairs = commands()
    assert len(pairs) == 20_910 and len({c for c, _ in pairs}) == 20_910
    lengths = Counter(len(actions) for _, actions in pairs)
    assert sum(v for k, v in lengths.items() if k <= 22) == 16_990
    assert sum(v for k, v in lengths.items() if k >= 24) == 3_920
    assert 23 not in lengths and max(lengths) == 48
    for command, actions in pairs:
        assert list(actions) == interpret(command), command


def test_the_papers_examples() -> None:
    table = dict(commands())
    walk4 = ("I_TURN_LEFT", "I_WALK") * 4
    assert table["jump opposite left after walk around left"] == (
        *walk4, "I_TURN_LEFT", "I_TURN_LEFT", "I_JUMP"
    )
    assert table["turn around left"] == ("I_TURN_LEFT",) * 4
    assert table["walk left twice and run"] == ("I_TURN_LEFT", "I_WALK") * 2 + ("I_RUN",)
    assert table["jump thrice"] == ("I_JUMP",) * 3


@pytest.mark.parametrize(("split", "longest", "sizes"), [
    ("length", 22, (15_291, 1_699, 3_920)),
    ("kazemnejad", 25, (15_997, 1_777, 3_136)),
])  # fmt: skip
def test_splits_hold_out_validation_from_the_training_lengths(
    split: str, longest: int, sizes: tuple[int, int, int]
) -> None:
    task = tasks.get("scan")(split=split)
    parts = task.splits()
    assert tuple(len(parts[k]) for k in ("train", "validation", "test")) == sizes
    assert all(len(ex[2]) <= longest for k in ("train", "validation") for ex in parts[k])
    assert all(len(ex[2]) > longest for ex in parts["test"])
    seen = [tuple(ex[1]) for part in parts.values() for ex in part]
    assert len(seen) == len(set(seen)) == 20_910  # disjoint, and every command once
    batch = task.eval_batches(parts["test"][:50], 8)[0]
    assert int(batch["length"][0]) == batch["y"].shape[1] - 1  # reported by action length


def test_scan_trains_as_a_decoder_and_reports_by_action_length(tmp_path) -> None:
    from pebench import encodings
    from pebench.benchmark.run.settings import ModelConfig, TrainConfig
    from pebench.benchmark.run.spec import RunSpec
    from pebench.benchmark.run.train import train

    run = train(RunSpec(
        task=tasks.get("scan")(), encoding=encodings.get("alibi"),
        model=ModelConfig(d_model=16, num_layers=1, num_heads=2),
        train=TrainConfig(max_steps=2, batch_size=8, progress=False, accelerator="cpu",
                          fast_dev_run=1),
        output_dir=tmp_path / "run",
    ))  # fmt: skip
    assert "id_exact_match" in run.summary and run.test is not None
    assert run.details["split_sizes"] == {"train": 15_291, "validation": 1_699, "test": 3_920}
