"""Kazemnejad et al. 2023's summation, polynomial evaluation and LEGO, pinned to their
builders (``scripts/dataset_builders/make_{sum,poly,lego}_dataset.py`` of
McGill-NLP/length-generalization): with ``--train_max 8 --num_train 200 --num_test 80``
(``--modular`` for sum and poly) and their seed, the first training and test problems they
write are below, and so are the split sizes. pebench draws the same problems in the same
order."""

from __future__ import annotations

from typing import Any

import pytest

from pebench import tasks
from pebench.errors import PebenchError
from tests.specs import tiny_run

SMALL = {"train_lengths": (4, 8), "num_train": 200, "num_test": 80}

#: their first train and test rows, as written to train.jsonl and test.jsonl
THEIRS: dict[str, dict[str, Any]] = {
    "summation": {
        "train": {"values": [4, 9, 1, 3, 3, 7, 4], "answer": 1},
        "test": {"values": [1, 9, 7, 9, 4, 2, 9, 3, 6, 3, 8], "answer": 1},
        "sizes": {"train": 200, "validation": 25, "test": 80},
    },
    "polynomial": {
        "train": {"coeffs": [-3, 2, -1, -2, 1, 0, -2], "degrees": [2, 2, 1, 0, 1, 0, 3],
                  "x": 1, "answer": 5},
        "test": {"coeffs": [-3, 2, 1, -2, -3, 3, -2, 0, -1, -1, -3],
                 "degrees": [0, 3, 2, 1, 3, 1, 3, 2, 3, 3, 2], "x": -1, "answer": 9},
        "sizes": {"train": 200, "validation": 25, "test": 80},
    },
    "lego": {
        "train": {"clauses": ["k = -1", "y = - k", "m = + y", "j = - m", "w = + j"],
                  "query": "j", "value": "-1"},
        "test": {"clauses": ["l = -1", "e = + l", "r = + e", "d = + r", "n = - d", "p = - n",
                             "y = + p", "h = - y", "g = - h", "t = - g", "b = + t"],
                 "query": "g", "value": "-1"},
        "sizes": {"train": 200, "validation": 22, "test": 62},
    },
}  # fmt: skip


def rendered(name: str, row: dict[str, Any]) -> dict[str, Any]:
    """Their row in pebench's symbols (the wrappers ``Compute:``, ``Evaluate at``, ``If …
    Then, what is the value of`` left out)."""
    if name == "summation":
        v = row["values"]
        return {"input": " + ".join(map(str, v)).split(), "target": [str(row["answer"])],
                "length": len(v)}  # fmt: skip
    if name == "polynomial":
        pairs = zip(row["coeffs"], row["degrees"], strict=True)
        terms = " + ".join(f"{c} * x ** {d}" for c, d in pairs)
        return {"input": f"x = {row['x']} in {terms}".split(), "target": [str(row["answer"])],
                "length": len(row["coeffs"])}  # fmt: skip
    chain = " , ".join(row["clauses"]).split()
    return {"input": [*chain, "?", row["query"]], "target": [row["value"]],
            "length": len(row["clauses"])}  # fmt: skip


@pytest.mark.parametrize("name", sorted(THEIRS))
def test_the_builder_draws_the_authors_problems(name: str) -> None:
    task = tasks.get(name)(**SMALL)
    for split in ("train", "test"):
        first = task.examples(split, None, None, 0)[0]
        assert first == rendered(name, THEIRS[name][split])
    assert {k: len(v) for k, v in task.splits().items()} == THEIRS[name]["sizes"]


@pytest.mark.parametrize("name", sorted(THEIRS))
def test_every_answer_is_the_definitions(name: str) -> None:
    task = tasks.get(name)(**SMALL)
    for split, (lo, hi) in (("validation", (4, 8)), ("test", (9, 16))):
        for ex in task.examples(split, None, None, 0):
            assert lo <= ex["length"] <= hi
            assert ex["target"] == [answer(name, ex["input"])]


def answer(name: str, source: list[str]) -> str:
    """The answer computed from the source text alone."""
    if name == "summation":
        return str(sum(int(s) for s in source if s != "+") % 10)
    if name == "polynomial":
        x, terms = int(source[2]), " ".join(source[4:]).split(" + ")
        total = 0
        for term in terms:
            c, _, _, _, d = term.split()
            total += int(c) * x ** int(d)
        return str(total % 10)
    text, query = " ".join(source).split(" ? ")
    values: dict[str, int] = {}
    for clause in text.split(" , "):
        var, rhs = clause.split(" = ")
        parts = rhs.split()
        sign = {"+": 1, "-": -1}
        values[var] = int(parts[0]) if len(parts) == 1 else sign[parts[0]] * values[parts[1]]
    return f"{values[query]:+d}"


def test_lego_asks_about_the_second_half_of_each_chain() -> None:
    task = tasks.get("lego")(**SMALL)
    shown = task.examples("train", 7, None, 0)
    asked = set()
    for ex in shown:
        pairs = zip(ex["input"][:-1], ex["input"][1:], strict=True)
        variables = [s for s, after in pairs if after == "="]
        asked.add(variables.index(ex["input"][-1]))
    assert asked == {4, 5, 6}  # the last ⌊7/2⌋ of 7
    with pytest.raises(PebenchError, match="2 <= min"):
        tasks.get("lego")(train_lengths=(1, 8))
    with pytest.raises(PebenchError, match="num_test 12 gives no problem per test size"):
        tasks.get("lego")(train_lengths=(4, 5), num_train=40, num_test=12).splits()


@pytest.mark.parametrize("name", sorted(THEIRS))
def test_reasoning_tasks_train_and_report_by_size(name: str, tmp_path) -> None:
    task = tasks.get(name)(train_lengths=(4, 5), num_train=40, num_test=40)
    run = tiny_run(tmp_path, task, "rope")
    assert set(run.summary) >= {"id_exact_match", "id_token_accuracy"}
    assert run.test is not None and set(run.test["per_length"]) <= {"6", "7", "8", "9", "10"}
