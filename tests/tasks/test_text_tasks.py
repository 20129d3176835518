"""NER and text classification on small files the tests write; real data when present."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pebench import encodings, tasks
from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
from pebench.benchmark.run.train import train
from pebench.errors import PebenchError
from pebench.tasks.text.readers import read_conll, read_table
from pebench.tasks.text.vocab import Vocabulary

CONLL = """-DOCSTART- -X- -X- O

John NNP B-NP B-PER
Smith NNP I-NP I-PER
visited VBD B-VP O
Paris NNP B-NP B-LOC
.  . O O

Acme NNP B-NP B-ORG
hired VBD B-VP O
Mary NNP B-NP B-PER\t
"""


def write_ner(folder: Path, text: str = CONLL) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}.conll").write_text(
            text.replace("\n", "\r\n") if split == "dev" else text
        )
    return {
        "train_file": "train.conll",
        "validation_file": "dev.conll",
        "test_file": "test.conll",
        "data_dir": str(folder),
    }


def write_tsv(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        "label\tsentence",
        "1\ta great film",
        "0\ta dull film",
        "1\tgreat fun",
        "0\tdull and slow",
    ]
    for split in ("train", "dev", "test"):
        (folder / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return {
        "train_file": "train.tsv",
        "validation_file": "dev.tsv",
        "test_file": "test.tsv",
        "data_dir": str(folder),
    }


def run(tmp_path: Path, task, encoding: str = "alibi", steps: int = 3) -> dict:
    """Train a tiny run; returns its metrics.json content."""
    return train(
        RunSpec(
            task=task,
            encoding=encodings.get(encoding),
            model=ModelConfig(d_model=16, num_layers=1, num_heads=2),
            train=TrainConfig(max_steps=steps, batch_size=2, progress=False, accelerator="cpu"),
            output_dir=tmp_path / "run",
        )
    ).as_json()


def test_read_conll_tolerates_docstart_crlf_whitespace_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "a.conll"
    path.write_text(CONLL.replace("\n", "\r\n"))
    sentences = read_conll(path)
    assert [len(w) for w, _ in sentences] == [5, 3]
    assert sentences[0][1] == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert read_conll(path, tag_column=2)[0][1][0] == "B-NP"


@pytest.mark.parametrize(
    "text, message",
    [
        ("John B-PER\nSmith NNP I-PER\n", "a.conll:2: expected 2 columns"),
        ("\n\n", "no sentences found"),
    ],
)
def test_malformed_conll_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "a.conll"
    path.write_text(text)
    with pytest.raises(PebenchError, match=message):
        read_conll(path)


def test_tag_breaking_the_scheme_names_file_and_line(tmp_path: Path) -> None:
    paths = write_ner(tmp_path, CONLL.replace("Paris NNP B-NP B-LOC", "Paris NNP B-NP I-LOC"))
    task = tasks.get("ner")(**paths)
    with pytest.raises(PebenchError, match=r"train.conll:6: tag 'I-LOC' breaks the IOB2 scheme"):
        task.prepared()


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    task = tasks.get("ner")(
        train_file="nope.conll", validation_file="x", test_file="y", data_dir=str(tmp_path)
    )
    with pytest.raises(PebenchError, match="nope.conll does not exist"):
        task.prepared()


def test_read_table_formats(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('great film,pos\n"dull, slow",neg\n')
    assert read_table(tmp_path / "a.csv", 0, 1, header=False) == [
        ("great film", "pos", 1),
        ("dull, slow", "neg", 2),
    ]
    (tmp_path / "a.jsonl").write_text(
        '{"text": "fine", "label": 2}\n\n{"text": "bad", "label": 0}\n'
    )
    assert read_table(tmp_path / "a.jsonl", "text", "label") == [
        ("fine", "2", 1),
        ("bad", "0", 3),
    ]
    (tmp_path / "b.jsonl").write_text('{"text": "fine"}\n')
    with pytest.raises(PebenchError, match=r"b.jsonl:1: missing label column 'label'"):
        read_table(tmp_path / "b.jsonl", "text", "label")
    (tmp_path / "c.tsv").write_text("label\tsentence\n1\tok\n0\tbad\textra\n")
    with pytest.raises(PebenchError, match=r"c.tsv:3: expected 2 columns, found 3"):
        read_table(tmp_path / "c.tsv", "sentence", "label")


def test_vocabulary_from_training_split_with_options() -> None:
    vocab = Vocabulary.build(
        [["The", "cat"], ["the", "dog"], ["the", "cat"]], lowercase=True, min_freq=2
    )
    assert vocab.tokens == ["<pad>", "<unk>", "<sep>", "the", "cat"]
    assert vocab.encode(["the", "DOG"]) == ([3, 1], [0, 1])
    assert len(Vocabulary.build([["a", "b", "c", "c"]], max_size=4)) == 4
    chars = Vocabulary.build([["ab", "c"]], level="char")
    ids, starts = chars.encode(["ab", "c"])
    assert starts == [0, 3] and ids[2] == 2  # <sep> between words


def test_ner_trains_and_reports_test_entity_f1(tmp_path: Path) -> None:
    task = tasks.get("ner")(**write_ner(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    metrics = run(tmp_path, task)
    assert set(metrics["summary"]) == {"precision", "recall", "f1", "token_accuracy"}
    assert set(metrics["test"]["summary"]) == set(metrics["summary"])
    assert set(metrics["per_type"]) == {"LOC", "ORG", "PER"}
    out = tmp_path / "run"
    assert "micro avg" in (out / "report_test.txt").read_text()
    assert json.loads((out / "labels.json").read_text())[0] == "O"
    assert Vocabulary.load(out / "vocab.json").tokens[3:] == sorted(
        ["John", "Smith", "visited", "Paris", ".", "Acme", "hired", "Mary"]
    )


@pytest.mark.parametrize(
    "scheme, tags",
    [("IOB1", ["I-PER", "I-PER", "O", "I-LOC"]), ("BIOES", ["B-PER", "E-PER", "O", "S-LOC"])],
)
def test_ner_other_schemes(tmp_path: Path, scheme: str, tags: list[str]) -> None:
    words = ["Ann", "Lee", "in", "Rome"]
    text = "\n".join(f"{w} {t}" for w, t in zip(words, tags, strict=True)) + "\n"
    task = tasks.get("ner")(
        **write_ner(tmp_path / "data", text), scheme=scheme, cache_dir=str(tmp_path / "cache")
    )
    assert run(tmp_path, task)["per_type"]["PER"]["support"] == 1


def test_truncated_words_count_as_missed_entities(tmp_path: Path) -> None:
    task = tasks.get("ner")(
        **write_ner(tmp_path / "data"), max_length=2, cache_dir=str(tmp_path / "cache")
    )
    metrics = run(tmp_path, task)
    # gold entities after the second word are still counted (support), never silently dropped
    assert metrics["test"]["per_type"]["LOC"]["support"] == 1
    # and the cut is reported: 5 and 3 words cut to 2 in each split
    assert metrics["data"]["max_length"] == 2
    assert metrics["data"]["truncated"]["test"] == {"examples": 2, "tokens": 4, "of": 2}
    from rich.console import Console

    from pebench.benchmark.run.record import RunRecord
    from pebench.benchmark.run.report import print_results

    console = Console(record=True, width=200)
    print_results([RunRecord.from_json(metrics)], console)
    assert "max_length 2 truncated train 2 of 2 examples (4 tokens)" in console.export_text()


def test_classification_trains_with_integer_labels(tmp_path: Path) -> None:
    task = tasks.get("classification")(
        **write_tsv(tmp_path / "data"), cache_dir=str(tmp_path / "c")
    )
    metrics = run(tmp_path, task, encoding="rope")
    assert set(metrics["summary"]) == {"accuracy", "macro_f1"}
    assert metrics["labels"] == ["0", "1"]
    assert sum(b["support"] for b in metrics["test"]["per_length"].values()) == 4


def test_character_level_classification(tmp_path: Path) -> None:
    task = tasks.get("classification")(
        **write_tsv(tmp_path / "data"),
        level="char",
        pooling="last",
        causal=True,
        cache_dir=str(tmp_path / "c"),
    )
    assert run(tmp_path, task, encoding="none")["steps"] == 3


def test_prepared_data_is_cached_and_keyed_by_options(tmp_path: Path) -> None:
    paths, cache = write_tsv(tmp_path / "data"), tmp_path / "cache"
    first = tasks.get("classification")(**paths, cache_dir=str(cache))
    first.prepared()
    key = first.cache_key()
    assert len(list(cache.iterdir())) == 1
    again = tasks.get("classification")(**paths, cache_dir=str(cache))
    assert again.cache_key() == first.cache_key()
    again.prepared()
    assert len(list(cache.iterdir())) == 1
    assert (
        tasks.get("classification")(**paths, cache_dir=str(cache), lowercase=True).cache_key()
        != first.cache_key()
    )
    time.sleep(0.01)
    (tmp_path / "data" / "train.tsv").write_text("label\tsentence\n1\tnew text\n")
    assert tasks.get("classification")(**paths, cache_dir=str(cache)).cache_key() != key


def test_label_missing_from_training_split_is_an_error(tmp_path: Path) -> None:
    paths = write_tsv(tmp_path / "data")
    (tmp_path / "data" / "test.tsv").write_text("label\tsentence\n7\tstrange\n")
    task = tasks.get("classification")(**paths, cache_dir=str(tmp_path / "c"))
    with pytest.raises(PebenchError, match=r"test.tsv:2: label '7' does not occur"):
        task.prepared()


def test_hub_dataset_offline_fails_fast_with_advice(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = tasks.get("ner")(hub_dataset="conll2003", cache_dir=str(tmp_path / "c"))
    started = time.perf_counter()
    with pytest.raises(PebenchError, match=r"conll2003.*--task.train_file"):
        task.prepared()
    assert time.perf_counter() - started < 60  # generous bound: the point is no retry loop


def test_no_data_source_is_a_clear_error() -> None:
    with pytest.raises(PebenchError, match="no data"):
        tasks.get("ner")()


SHARED = Path(os.environ.get("PEBENCH_DATA_DIR", Path(__file__).parents[3] / "shared" / "data"))


def test_shared_wikiann_and_sst2_read(tmp_path: Path) -> None:
    if not (SHARED / "wikiann-en").is_dir() or not (SHARED / "sst2").is_dir():
        pytest.skip(f"shared datasets not found under {SHARED}; set PEBENCH_DATA_DIR")
    assert len(read_conll(SHARED / "wikiann-en" / "dev.conll")) == 10000
    assert len(read_table(SHARED / "sst2" / "dev.tsv", "sentence", "label")) == 872


def test_hub_loader_reads_a_local_dataset_folder(tmp_path: Path) -> None:
    """The hub path (datasets.load_dataset) on a dataset folder, which works offline."""
    folder = tmp_path / "hubdata"
    folder.mkdir()
    rows = [
        {"tokens": ["Ann", "in", "Rome"], "ner_tags": ["B-PER", "O", "B-LOC"]},
        {"tokens": ["Bob"], "ner_tags": ["B-PER"]},
    ]
    for split in ("train", "validation", "test"):
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    task = tasks.get("ner")(hub_dataset=str(folder), cache_dir=str(tmp_path / "c"))
    assert run(tmp_path, task)["test"]["per_type"]["PER"]["support"] == 2
    bad = tasks.get("ner")(
        hub_dataset=str(folder), tags_field="tags", cache_dir=str(tmp_path / "d")
    )
    with pytest.raises(PebenchError, match="no column 'tags'.*--task.tags_field"):
        bad.prepared()
