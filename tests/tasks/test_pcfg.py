"""PCFG SET pinned to Hupkes et al. 2020: the functions as the authors' ``tasks/default.py``
defines them, the interpreter against programs and outputs of their released productivity
test set (``data/pcfgset/productivity/test.{src,tgt}`` in i-machine-think/am-i-compositional),
the productivity split by function count, and exact match equal to greedy decoding's."""

from __future__ import annotations

import random

import pytest
import torch

from pebench import tasks
from pebench.tasks.metrics import LengthAccuracy
from pebench.tasks.pcfg.grammar import (
    BINARY,
    LETTERS,
    MAX_CHARS,
    UNARY,
    Sampler,
    function_count,
    interpret,
)
from tests.specs import tiny_run

#: (program, output) lines 1, 3, 4 and 5 of the authors' productivity test set
RELEASED = [
    (
        "append X6 Z11 T16 H9 , reverse remove_second Q13 Y2 C11 , repeat repeat prepend "
        "append L8 P13 X1 , D8 U1 V18 , remove_second V10 J5 I8 , copy I10 K18 J18 C4",
        "X6 Z11 T16 H9 C11 Y2 Q13",
    ),
    (
        "swap_first_last repeat append repeat remove_first echo swap_first_last copy B10 V8 A7 "
        "W14 A14 , K16 H5 B8 , repeat Z12 F16 H19 S5",
        "S5 H5 B8 K16 H5 B8 Z12 F16 H19 S5 Z12 F16 H19 S5 K16 H5 B8 K16 H5 B8 Z12 F16 H19 S5 "
        "Z12 F16 H19 K16",
    ),
    (
        "swap_first_last remove_first shift append shift Y4 E8 P7 , repeat Q20 T14 X11 , echo "
        "append X5 U14 , remove_second D19 U1 T1 L14 Y15 , U12 O4 F12",
        "Y15 U14 D19 U1 T1 L14 Y15 X5",
    ),
    (
        "repeat append repeat repeat shift F7 T19 G14 A2 , repeat copy echo swap_first_last V16 "
        "H6 M12 W16",
        " ".join((["T19 G14 A2 F7"] * 4 + ["W16 H6 M12 V16 V16"] * 2) * 2),
    ),
]


@pytest.mark.parametrize(("program", "output"), RELEASED)
def test_the_interpreter_gives_the_released_outputs(program: str, output: str) -> None:
    assert interpret(program.split()) == output.split()
    assert function_count(program.split()) >= 9  # the productivity test holds 9 and more


def test_the_functions_are_the_authors() -> None:
    x, y = list("abcd"), list("ef")
    assert [UNARY[f](x) for f in UNARY] == [
        x,
        list("dcba"),
        list("bcda"),
        list("abcdd"),
        list("dbca"),
        list("abcdabcd"),
    ]
    assert [BINARY[f](x, y) for f in BINARY] == [x + y, y + x, y, x]
    assert len(LETTERS) == 520 and LETTERS[0] == "A1" and LETTERS[-1] == "Z20"
    with pytest.raises(ValueError, match="two arguments"):
        interpret(["append", "A1", "B2"])


def test_the_sampler_draws_programs_of_the_asked_size_with_fresh_strings() -> None:
    sampler = Sampler(random.Random(0))
    programs = [p for k in (1, 5, 12) for _ in range(50) if (p := sampler.program(k))]
    sizes = [function_count(p) for p in programs]
    assert sorted(set(sizes)) == [1, 5, 12] and len(programs) == 150
    for p in programs:
        assert len(" ".join(p)) < MAX_CHARS and interpret(p)
    strings: list[tuple[str, ...]] = []
    for p in programs:
        run: list[str] = []
        for token in [*p, ","]:
            if token in LETTERS:
                run.append(token)
            elif run:
                strings.append(tuple(run))
                run = []
    assert all(2 <= len(s) <= 5 for s in strings) and len(strings) == len(set(strings))


def test_the_productivity_split_is_by_function_count() -> None:
    task = tasks.get("pcfg_set")(num_train=160, num_test=40, max_functions=12, data_seed=3)
    parts = task.splits()
    assert {k: len(v) for k, v in parts.items()} == {"train": 144, "validation": 16, "test": 40}
    names = {i: s for i, s in enumerate((*LETTERS, *UNARY, *BINARY, ","))}
    count = {k: [function_count([names[s] for s in ex[1]]) for ex in v] for k, v in parts.items()}
    assert max(count["train"] + count["validation"]) <= 8 and min(count["test"]) == 9
    assert sorted(set(count["test"])) == [9, 10, 11, 12]
    assert (count["train"] + count["validation"]).count(1) == 20  # equally many per count
    for part in parts.values():
        for _, x, y in part:
            assert interpret([names[s] for s in x]) == [names[s] for s in y]
    shown = task.examples("test", 10, 2, seed=0)
    assert len(shown) == 2 and all(ex["length"] == 10 for ex in shown)
    assert interpret(shown[0]["input"]) == shown[0]["target"]


def test_exact_match_in_one_forced_pass_equals_greedy_decoding() -> None:
    """An oracle decoder that answers every program right except those of an odd-length
    source, where its second token is wrong: greedy decoding and the forced pass must agree
    on which rows are exact."""
    from pebench.tasks.synthetic.sequence import SEP

    task = tasks.get("pcfg_set")(num_train=40, num_test=16, max_functions=10)
    examples = task.splits()["validation"] + task.splits()["test"]
    answers = {tuple(task.source(ex)): task.answer(ex) for ex in examples}

    def oracle(tokens: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        logits = torch.zeros(*tokens.shape, task.vocab_size)
        for r, row in enumerate(tokens.tolist()):
            sep = row.index(SEP)
            answer = answers[tuple(row[:sep])]
            for k in range(min(len(answer), len(row) - sep)):
                wrong = k == 1 and sep % 2 == 1
                logits[r, sep + k, answer[k] + 1 if wrong else answer[k]] = 1.0
        return logits

    forced, greedy = LengthAccuracy(400, 8), LengthAccuracy(400, 8)
    for batch in task.eval_batches(examples, 3):
        task.evaluate(oracle, batch, forced)
    base = super(type(task), task)
    for batch in base.eval_batches(examples, 3):
        base.evaluate(oracle, batch, greedy)
    right = sum(len(task.source(ex)) % 2 == 0 for ex in examples)
    assert 0 < right < len(examples)
    assert int(forced.seq_correct.sum()) == int(greedy.seq_correct.sum()) == right
    assert int(forced.seq_total.sum()) == len(examples)


def test_pcfg_set_trains_and_reports_by_function_count(tmp_path) -> None:
    task = tasks.get("pcfg_set")(num_train=64, num_test=16, max_functions=10)
    run = tiny_run(tmp_path, task, "alibi")
    assert set(run.summary) >= {"id_exact_match", "id_token_accuracy"}
    assert run.test is not None and set(run.test["per_length"]) == {"9", "10"}
    assert run.details["split_sizes"] == {"train": 58, "validation": 6, "test": 16}
