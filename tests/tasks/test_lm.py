"""Language modelling: window arithmetic, per-length losses against a hand computation, the
corpus and tokenizers, offline failures, and a learned table past its length."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from pebench import encodings
from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
from pebench.benchmark.run.train import train
from pebench.errors import PebenchError
from pebench.tasks.lm.corpus import ByteTokenizer, CharTokenizer
from pebench.tasks.lm.lm import LanguageModelling, eval_windows


@pytest.mark.parametrize("n_tokens", [2, 17, 64, 65, 100])
@pytest.mark.parametrize("length", [1, 4, 16])
def test_non_overlapping_windows_score_every_target_once(n_tokens: int, length: int) -> None:
    scored: list[int] = []
    previous_end = 0
    for start, end, first in eval_windows(n_tokens, length):
        assert start == previous_end and first == start + 1  # back to back, all scored
        assert 1 <= end - start <= length
        scored += range(first, end + 1)
        previous_end = end
    assert scored == list(range(1, n_tokens))


@pytest.mark.parametrize("n_tokens", [40, 41, 97])
@pytest.mark.parametrize(("length", "stride"), [(16, 4), (16, 16), (8, 1), (10, 3)])
def test_sliding_windows_score_each_target_once_with_its_context(
    n_tokens: int, length: int, stride: int
) -> None:
    scored: list[int] = []
    for start, end, first in eval_windows(n_tokens, length, stride):
        assert end - start == min(length, n_tokens - 1)  # every window full length
        for target in range(first, end + 1):
            context = target - start  # tokens start .. target − 1 precede it in the window
            assert context >= min(target, length - stride + 1)
        scored += range(first, end + 1)
    assert scored == list(range(1, n_tokens))


def corpus(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path


class PeriodicModel(torch.nn.Module):
    """Knows the text cycles a → b → c: uniform over the 4 ids at the first ``warm``
    positions of a window (nll ln 4), then probability 1/2 on the true next char (nll ln 2)."""

    def __init__(self, warm: int, max_positions: int | None = None) -> None:
        super().__init__()
        self.warm = warm
        self.encoding = type("Enc", (), {"max_positions": max_positions})()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        ids = {"a": 1, "b": 2, "c": 3}  # the char vocabulary: <unk>, a, b, c
        successor = torch.tensor([0, ids["b"], ids["c"], ids["a"]])
        logits = torch.full((*inputs.shape, 4), math.log(0.5 / 3))
        logits.scatter_(-1, successor[inputs].unsqueeze(-1), math.log(0.5))
        logits[:, : self.warm] = 0.0
        return logits


def evaluate(task: LanguageModelling, model: torch.nn.Module) -> dict:
    metric = task.build_metric()
    for batch in task.eval_batches(batch_size=3):
        task.evaluate(model, batch, metric)
    return task.results(metric)


def test_per_length_losses_match_a_hand_computation(tmp_path: Path) -> None:
    text = "abc" * 20  # 60 chars: train 30, validation 30 → 29 scored targets per length
    task = LanguageModelling(text_file=str(corpus(tmp_path, text)), train_fraction=0.5,
                             context=4, eval_contexts=[4, 8])
    results = evaluate(task, PeriodicModel(warm=3))
    ln2, ln4 = math.log(2), math.log(4)
    for length in (4, 8):
        windows = eval_windows(30, length)
        positions = [p for s, e, _ in windows for p in range(e - s)]  # one per scored target
        warm = sum(p < 3 for p in positions)
        want = (warm * ln4 + (len(positions) - warm) * ln2) / len(positions)
        values = results["per_length"][str(length)]
        assert values["loss"] == pytest.approx(want)
        assert values["bpc"] == pytest.approx(want / ln2)
        assert values["perplexity"] == pytest.approx(math.exp(want))
        assert values["tokens"] == 29
        head = [p for p in positions if p < 4]  # positions before the training context
        head_want = (sum(p < 3 for p in head) * ln4 + sum(p == 3 for p in head) * ln2) / len(head)
        assert values["loss_head"] == pytest.approx(head_want)
        if length == 8:
            assert values["loss_tail"] == pytest.approx(ln2)  # positions 4..7: all past warm-up
    assert results["summary"]["loss"] == results["per_length"]["4"]["loss"]
    assert results["summary"]["loss_8"] == results["per_length"]["8"]["loss"]


def test_sliding_evaluation_scores_only_fresh_tokens(tmp_path: Path) -> None:
    task = LanguageModelling(text_file=str(corpus(tmp_path, "abc" * 40)), train_fraction=0.5,
                             context=8, eval_contexts=[8], stride=2)
    results = evaluate(task, PeriodicModel(warm=3))
    # only the first window scores its warm-up positions; every later one scores 2 tokens
    # at positions 6 and 7
    want = (3 * math.log(4) + (59 - 3) * math.log(2)) / 59
    assert results["per_length"]["8"]["loss"] == pytest.approx(want)
    assert results["evaluation"] == "sliding"


def test_a_length_past_a_learned_table_is_not_applicable(tmp_path: Path) -> None:
    task = LanguageModelling(text_file=str(corpus(tmp_path, "abc" * 40)), train_fraction=0.5,
                             context=4, eval_contexts=[4, 8, 16])
    results = evaluate(task, PeriodicModel(warm=0, max_positions=8))
    assert results["per_length"]["8"]["loss"] == pytest.approx(math.log(2))
    assert results["per_length"]["16"]["loss"] is None
    assert results["summary"]["loss_16"] is None


def test_training_windows_are_seeded_per_step_and_cover_context_plus_one(tmp_path: Path) -> None:
    task = LanguageModelling(text_file=str(corpus(tmp_path, "abcdefgh" * 50)), context=16)
    module = task.datamodule(batch_size=5, seed=3)
    first = next(iter(module.train_dataloader()))
    assert first["inputs"].shape == first["targets"].shape == (5, 16)
    assert torch.equal(first["inputs"][:, 1:], first["targets"][:, :-1])
    again = next(iter(task.datamodule(batch_size=5, seed=3).train_dataloader()))
    assert torch.equal(first["inputs"], again["inputs"])


def test_char_vocabulary_comes_from_training_text_only(tmp_path: Path) -> None:
    task = LanguageModelling(text_file=str(corpus(tmp_path, "aabb" * 10 + "ccz" * 5)),
                             train_fraction=0.6, context=2)
    tokens = task.tokens()
    assert task.vocab_size == 3  # <unk>, a, b: c and z appear only in validation
    assert int(tokens["validation"].max()) <= 2
    assert (tokens["validation"] == 0).any()
    tok = CharTokenizer.from_text("hello")
    assert tok.decode(tok.encode("hello")) == "hello"
    assert ByteTokenizer().decode(ByteTokenizer().encode("é✓")) == "é✓"


def test_shakespeare_split_is_the_nanogpt_one(data_dir: Path) -> None:
    task = LanguageModelling(data_dir=str(data_dir))
    tokens = task.tokens()
    assert len(tokens["train"]) == 1_003_854 and len(tokens["validation"]) == 111_540
    assert task.vocab_size == 66  # 65 characters + <unk>


def test_a_file_that_is_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(b"first line\nsecond caf\xe9\n" * 3)
    with pytest.raises(PebenchError, match=rf"{path}:2: not valid utf-8"):
        LanguageModelling(text_file=str(path), context=2).tokens()
    latin = LanguageModelling(text_file=str(path), context=2, encoding="latin-1")
    assert latin.tokens()["train"].numel() > 0


def test_missing_hub_dataset_fails_fast_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    task = LanguageModelling(hub_dataset="wikitext", hub_config="wikitext-2-raw-v1")
    with pytest.raises(PebenchError, match="offline and not in the local cache"):
        task.tokens()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"context": 0}, "context must be at least 1"),
        ({"eval_contexts": [64, 64]}, "distinct"),
        ({"stride": 100}, "stride"),
        ({"text_file": None}, "text_file or --task.hub_dataset"),
    ],
)
def test_invalid_options_are_clear_errors(options: dict, message: str) -> None:
    with pytest.raises(PebenchError, match=message):
        LanguageModelling(**options)


def test_lm_trains_end_to_end_and_writes_per_length_metrics(tmp_path: Path) -> None:
    spec = RunSpec(
        task=LanguageModelling(text_file=str(corpus(tmp_path, "the cat sat on the mat. " * 40)),
                               context=8, eval_contexts=[8, 16, 32]),
        encoding=encodings.get("learned"),
        model=ModelConfig(d_model=16, num_layers=1, num_heads=2),
        train=TrainConfig(progress=False, accelerator="cpu", batch_size=4, max_steps=5),
        output_dir=tmp_path / "run",
    )
    metrics = train(spec).as_json()
    assert metrics["monitor"] == "loss" and metrics["summary"]["loss"] > 0
    assert set(metrics["per_length"]) == {"8", "16", "32"}
    assert (tmp_path / "run" / "tokenizer.json").is_file()


def test_hub_path_reads_a_local_dataset_folder_with_its_splits(tmp_path: Path) -> None:
    """The hub loader (datasets.load_dataset) on a dataset folder, which works offline."""
    folder = tmp_path / "wikitext-like"
    folder.mkdir()
    for split, lines in (("train", ["abc abc", "cab"]), ("validation", ["bca", "abc"])):
        rows = "\n".join(json.dumps({"text": line}) for line in lines)
        (folder / f"{split}.jsonl").write_text(rows + "\n")
    task = LanguageModelling(hub_dataset=str(folder), context=2, eval_contexts=[2, 4])
    texts = task.texts()
    assert texts == {"train": "abc abc\ncab", "validation": "bca\nabc"}
    assert task.vocab_size == 6  # <unk>, newline, space, a, b, c
