"""``pebench examples TASK``: a task's data in its own symbols, as text or JSON lines."""

from __future__ import annotations

import json

import pytest

from pebench import tasks
from pebench.benchmark.cli import main


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()


def test_jsonl_shows_tokens_as_the_task_writes_them(capsys) -> None:
    assert main(["examples", "stack_manipulation", "--length", "6", "--count", "3",
                 "--format", "jsonl"]) == 0  # fmt: skip
    shown = [json.loads(line) for line in lines(capsys)]
    assert len(shown) == 3
    for ex in shown:
        assert ex["length"] == 6 and len(ex["input"]) == 6 and len(ex["target"]) == 7
        assert "2" in ex["target"] and set(ex["input"]) <= {"0", "1", "2", "3", "4"}


def test_a_finite_split_whole_and_by_length(capsys) -> None:
    assert main(["examples", "scan", "--split", "test", "--length", "48", "--all",
                 "--format", "jsonl"]) == 0  # fmt: skip
    shown = [json.loads(line) for line in lines(capsys)]
    assert len(shown) == 128 and all(len(ex["target"]) == 48 for ex in shown)
    assert all(ex["target"][0].startswith("I_") and ex["input"][0] in
               ("walk", "look", "run", "jump", "turn") for ex in shown)  # fmt: skip
    assert main(["examples", "scan", "--count", "2", "--seed", "3"]) == 0
    text = lines(capsys)
    assert len(text) == 2 and all("  →  I_" in line for line in text)


def test_task_options_apply_and_mistakes_are_one_line(capsys) -> None:
    assert main(["examples", "scan", "--task.split", "kazemnejad", "--split", "test",
                 "--length", "26", "--all", "--format", "jsonl"]) == 0  # fmt: skip
    assert len(lines(capsys)) == 512
    for argv, message in [
        (["examples", "parity_check", "--all"], "generates its data; give --count N"),
        (["examples", "lm"], "does not show examples"),
        (["examples", "copy", "--split", "test", "--count", "1"], "splits train and validation"),
        (["examples", "scan", "--split", "dev"], "--split takes one of train, validation, test"),
        (["examples", "nope"], "unknown task 'nope'"),
        (["examples"], "give a task"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


#: tasks that need data files or a corpus to show theirs
NEEDS_DATA = {"lm", "passkey", "ner", "classification"}


@pytest.mark.parametrize("name", sorted(set(tasks.available()) - NEEDS_DATA))
def test_every_generated_task_shows_examples_in_its_own_symbols(name: str, capsys) -> None:
    assert main(["examples", name, "--count", "2", "--format", "jsonl"]) == 0
    shown = [json.loads(line) for line in lines(capsys)]
    assert len(shown) == 2
    for ex in shown:
        assert set(ex) == {"input", "target", "length"} and ex["input"] and ex["target"]
        assert all(isinstance(s, str) for s in ex["input"] + ex["target"])
        assert isinstance(ex["length"], int) and ex["length"] >= 1
