"""The Chomsky-hierarchy tasks pinned to their authors' definitions
(google-deepmind/neural_networks_chomsky_hierarchy, randomized_positional_encodings):
their docstring examples, vocabulary and class counts, output lengths, accuracy masks and
sampling rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pebench import tasks
from pebench.tasks.chomsky import binary
from pebench.tasks.chomsky.modular_arithmetic_brackets import SYMBOLS as BRACKET_SYMBOLS
from pebench.tasks.chomsky.solve_equation import SYMBOLS as EQUATION_SYMBOLS
from pebench.tasks.chomsky.tape import rng_for

#: their TASK_BUILDERS and TASK_LEVELS (experiments/constants.py): level, input_size,
#: output_size and output_length at n = 1, 2, 5, 40
THEIRS = {
    "even_pairs": ("regular", 2, 2, (1, 1, 1, 1)),
    "modular_arithmetic": ("regular", 9, 5, (1, 1, 1, 1)),
    "parity_check": ("regular", 2, 2, (1, 1, 1, 1)),
    "cycle_navigation": ("regular", 3, 5, (1, 1, 1, 1)),
    "stack_manipulation": ("dcf", 5, 3, (2, 3, 6, 41)),
    "reverse_string": ("dcf", 2, 2, (1, 2, 5, 40)),
    "modular_arithmetic_brackets": ("dcf", 11, 5, (1, 1, 1, 1)),
    "solve_equation": ("dcf", 11, 5, (1, 1, 1, 1)),
    "duplicate_string": ("cs", 2, 2, (2, 4, 10, 80)),
    "missing_duplicate_string": ("cs", 4, 2, (1, 1, 1, 1)),
    "odds_first": ("cs", 2, 2, (1, 2, 5, 40)),
    "binary_addition": ("cs", 3, 3, (2, 3, 6, 41)),
    "binary_multiplication": ("cs", 3, 3, (1, 2, 5, 40)),
    "compute_sqrt": ("cs", 2, 2, (1, 1, 3, 20)),
    "bucket_sort": ("cs", 5, 5, (1, 2, 5, 40)),
}


def task(name: str) -> tasks.Task:
    return tasks.get(name)()


def digits(text: str) -> np.ndarray:
    return np.array([[int(c) for c in text]])


@pytest.mark.parametrize("name", sorted(THEIRS))
def test_sizes_levels_and_output_lengths_are_theirs(name: str) -> None:
    level, inputs, classes, lengths = THEIRS[name]
    t = task(name)
    assert (t.level, t.input_size, t.output_size) == (level, inputs, classes)
    assert tuple(t.output_length(n) for n in (1, 2, 5, 40)) == lengths
    assert t.vocab_size == inputs + 1  # the empty tape token
    for n in (1, 2, 3, 4, 5, 6, 17, 40, 57):
        x, y = t.sample(rng_for(0, n), 6, n)
        assert y.shape == (6, t.output_length(n)), n
        assert x.min() >= 0 and x.max() < inputs and y.min() >= 0 and y.max() < classes


@pytest.mark.parametrize(
    ("name", "x", "y"),
    [
        ("even_pairs", "001110", "0"),
        ("even_pairs", "0101001", "1"),
        ("parity_check", "1010100", "1"),
        ("parity_check", "01111", "0"),
        ("cycle_navigation", "20100", "3"),  # +1 −1 0 −1 −1 → −2 = class 3
        ("cycle_navigation", "2220", "2"),  # +1 +1 +1 −1
        ("reverse_string", "011010", "010110"),
        ("duplicate_string", "101", "101101"),
        ("missing_duplicate_string", "01100210", "1"),
        ("missing_duplicate_string", "1011213", "0"),
        # their code, not their docstring ("0100 0111"): odd 0-based indices first
        ("odds_first", "00110101", "01110100"),
        ("bucket_sort", "10204112", "00111224"),
        ("stack_manipulation", "0110422", "11020000"),  # 0 1 1 0 PUSH1 POP POP
        ("stack_manipulation", "110222", "2000000"),  # 1 1 0 POP POP POP
        # n + 1 outputs (their docstring shows n): 4 + 22 = 26 = 01011 little-endian
        ("binary_addition", "001201101", "0101120000"),
        ("binary_addition", "10012000001", "100101200000"),  # 9 + 32 = 41
        ("binary_multiplication", "001201101", "000110120"),  # 4 × 22 = 88
        ("binary_multiplication", "10012000001", "00000100120"),  # 9 × 32 = 288
        ("compute_sqrt", "111", "10"),
        ("compute_sqrt", "100101", "110"),  # ⌊√37⌋ = 6 (their docstring: "101")
    ],
)
def test_their_examples(name: str, x: str, y: str) -> None:
    np.testing.assert_array_equal(task(name).target(digits(x)), digits(y))


def test_modular_arithmetic_examples_and_even_lengths() -> None:
    t = task("modular_arithmetic")
    plus, minus, times = 5, 6, 7
    for expression, value in [
        ([1, plus, 2, times, 3], 2),
        ([1, minus, 1, minus, 1], 4),
        ([0, times, 1, plus, 4, times, 3, minus, 2], 0),
    ]:
        assert t.target(np.array([expression]))[0, 0] == value
    x, y = t.sample(rng_for(3), 64, 40)  # an even length is shortened by one
    assert x.shape == (64, 39)
    assert set(np.unique(x[:, 1::2])) <= {plus, minus, times} and x[:, ::2].max() < 5
    for row, answer in zip(x.tolist(), y[:, 0].tolist(), strict=True):
        text = "".join(str(v) if v < 5 else "+-*"[v - 5] for v in row)
        assert eval(text) % 5 == answer, text  # Python's precedence: × before + and −


def _text(row: list[int], symbols: dict[str, int]) -> str:
    names = {v: k for k, v in symbols.items()}
    return "".join(str(v) if v < 5 else names[v] for v in row)


def test_bracket_expressions_evaluate_to_their_answer() -> None:
    t = task("modular_arithmetic_brackets")
    for n in (1, 2, 3, 4, 5, 9, 23, 40):
        x, y = t.sample(rng_for(4, n), 32, n)
        assert x.shape == (32, n)
        for row, answer in zip(x.tolist(), y[:, 0].tolist(), strict=True):
            text = _text(row, BRACKET_SYMBOLS)
            assert eval(text) % 5 == answer, text
    texts = [_text(row, BRACKET_SYMBOLS) for row in t.sample(rng_for(5), 200, 25)[0].tolist()]
    assert any("*" in s for s in texts) and all(s[0] == "(" and s[-1] == ")" for s in texts)


def test_equations_are_solved_by_their_answer() -> None:
    t = task("solve_equation")
    for n in (3, 4, 5, 8, 31, 40):
        x, y = t.sample(rng_for(6, n), 32, n)
        assert x.shape == (32, n)
        for row, answer in zip(x.tolist(), y[:, 0].tolist(), strict=True):
            text = _text(row, EQUATION_SYMBOLS)
            left, right = text.split("=")
            assert text.count("x") == 1 and "*" not in left
            assert eval(left.replace("x", str(answer))) % 5 == int(right), text
    x, y = t.sample(rng_for(7), 4, 2)  # below length 3: all zeros, as theirs
    assert not x.any() and not y.any()


@pytest.mark.parametrize("name", ["binary_addition", "binary_multiplication"])
def test_binary_operands_fill_the_length_and_the_answer_is_exact(name: str) -> None:
    t = task(name)
    for n in (3, 4, 12, 40):
        x, y = t.sample(rng_for(8, n), 32, n)
        for row, out in zip(x.tolist(), y.tolist(), strict=True):
            cut = row.index(binary.SEPARATOR)
            a, b = binary.parse(row)
            assert 1 <= cut <= n - 2 and a >= 1 and b >= 1  # positive, each ≥ 1 bit
            result = a + b if name == "binary_addition" else a * b
            end = out.index(binary.TERMINATOR)
            assert binary.value(out[:end]) == result and not any(out[end + 1 :])
            assert out[end - 1] == 1  # no leading zeros (little-endian: no trailing 0)


def test_short_binary_inputs_follow_their_special_cases() -> None:
    add, mul = task("binary_addition"), task("binary_multiplication")
    x, y = add.sample(rng_for(9), 64, 2)
    assert x.max() < 2 and set(binary.value(r) for r in x.tolist()) <= {0, 1, 2}
    for row, out in zip(x.tolist(), y.tolist(), strict=True):
        sum_bits = binary.bits(binary.value(row))  # one number, answered by itself
        assert out == sum_bits + [2] + [0] * (2 - len(sum_bits))
    _, y = mul.sample(rng_for(9), 4, 2)
    assert y.tolist() == [[0, 2]] * 4


def test_square_roots_are_floors_in_big_endian() -> None:
    t = task("compute_sqrt")
    for n in (1, 2, 7, 40):
        x, y = t.sample(rng_for(10, n), 32, n)
        for row, out in zip(x.tolist(), y.tolist(), strict=True):
            number = binary.value(row, little_endian=False)
            assert number >= 1 and math.isqrt(number) == binary.value(out, little_endian=False)


def test_missing_duplicate_hides_one_symbol_of_a_doubled_string() -> None:
    t = task("missing_duplicate_string")
    for n in (2, 7, 40):
        x, y = t.sample(rng_for(11, n), 32, n)
        half = n // 2
        assert ((x[:, : 2 * half] == 2).sum(-1) == 1).all()
        assert (x[:, 2 * half :] == 3).all() and x.shape[1] == n
        restored = np.where(x[:, : 2 * half] == 2, y, x[:, : 2 * half])
        np.testing.assert_array_equal(restored[:, :half], restored[:, half:])
    x, y = t.sample(rng_for(12), 3, 1)
    assert x.tolist() == [[1]] * 3 and y.tolist() == [[1]] * 3


def test_stack_inputs_start_with_a_stack_then_actions() -> None:
    t = task("stack_manipulation")
    x, _ = t.sample(rng_for(13), 64, 20)
    for row in x.tolist():
        split = next(i for i, v in enumerate(row) if v >= 2)
        assert 1 <= split <= 19 and max(row[:split]) <= 1 and min(row[split:]) >= 2


@pytest.mark.parametrize("name", ["stack_manipulation", "binary_addition", "binary_multiplication"])
def test_accuracy_counts_outputs_up_to_the_terminator(name: str) -> None:
    targets = torch.tensor([[1, 0, 2, 0, 0], [2, 0, 0, 0, 0], [0, 1, 1, 0, 2]])
    mask = task(name).accuracy_mask(targets)
    assert mask.tolist() == [[True, True, True, False, False], [True, False, False, False, False],
                             [True] * 5]  # fmt: skip
    assert task("reverse_string").accuracy_mask(targets).all()


def test_training_batches_hold_one_length_drawn_from_1_to_40_and_fresh_samples() -> None:
    t = task("parity_check")
    stream = iter(t.datamodule(16, seed=0).train_dataloader().dataset)
    batches = [next(stream) for _ in range(200)]
    lengths = {int(b["length"][0]) for b in batches}
    assert lengths <= set(range(1, 41)) and len(lengths) > 30
    long = [b for b in batches if b["length"][0] > 20]
    assert not torch.equal(long[0]["inputs"][:, :20], long[1]["inputs"][:, :20])
    for b in batches[:5]:
        n = int(b["length"][0])
        assert b["inputs"].shape == (16, n + 1) and (b["inputs"][:, -1] == t.tape_token).all()


def test_a_tape_task_trains_and_reports_id_and_ood_accuracy(tmp_path) -> None:
    from pebench import encodings
    from pebench.benchmark.run.settings import ModelConfig, TrainConfig
    from pebench.benchmark.run.spec import RunSpec
    from pebench.benchmark.run.train import train

    for causal in (False, True):
        run = train(RunSpec(
            task=tasks.get("reverse_string")(causal=causal, train_lengths=(1, 4),
                                             eval_lengths=(1, 6), eval_samples=8),
            encoding=encodings.get("alibi"),
            model=ModelConfig(d_model=16, num_layers=1, num_heads=2),
            train=TrainConfig(max_steps=3, batch_size=8, progress=False, accelerator="cpu"),
            output_dir=tmp_path / f"run-{causal}",
        ))  # fmt: skip
        assert set(run.summary) == {"id_token_accuracy", "id_exact_match", "ood_token_accuracy",
                                    "ood_exact_match"}  # fmt: skip
        assert sorted(map(int, run.per_length)) == list(range(1, 7))
        assert run.details["level"] == "dcf" and run.selected_on == "id_token_accuracy"
        assert [c.label for c in run.columns] == ["ID", "OOD"]


def test_every_task_is_listed_with_the_monitor_a_sweep_selects_on() -> None:
    """``pebench list`` and sweeps read tasks from the sources (no torch): every task is
    there with its monitor, inherited through its base classes."""
    from pebench.catalog import listing, task_monitors

    listed = listing()[1]
    for name in THEIRS:
        assert name in listed and task_monitors()[name] == ("id_token_accuracy", "maximize")
        assert task(name).summary_keys() >= {"id_token_accuracy", "ood_token_accuracy"}
