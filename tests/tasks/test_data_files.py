"""Data files as users have them (issue 18): encodings, line ends, quoting per format,
nulls, column indices, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pebench import tasks
from pebench.benchmark.cli import main
from pebench.errors import PebenchError
from pebench.tasks.text.readers import read_conll_numbered, read_table


def test_a_latin1_file_is_one_line_naming_file_and_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "train.tsv"
    path.write_bytes("label\tsentence\n1\tgood\n0\tna\xefve\n".encode("latin-1"))
    with pytest.raises(PebenchError, match=r"train.tsv:3: byte 0xef is not valid utf-8"):
        read_table(path, "sentence", "label")
    assert read_table(path, "sentence", "label", encoding="latin-1")[1][0] == "naïve"
    for name in ("dev.tsv", "test.tsv"):
        (tmp_path / name).write_bytes(path.read_bytes())
    args = ["train", "--task", "classification", "--encoding", "alibi"]
    args += ["--task.data_dir", str(tmp_path), "--task.text_column", "sentence"]
    args += ["--task.train_file", "train.tsv", "--task.validation_file", "dev.tsv"]
    args += ["--task.test_file", "test.tsv", "--output-dir", str(tmp_path / "run")]
    args += ["--task.cache_dir", str(tmp_path / "cache")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "train.tsv:3" in err and "--task.encoding" in err and "Traceback" not in err


def test_unicode_separators_and_no_break_spaces_stay_inside_tokens(tmp_path: Path) -> None:
    conll = tmp_path / "a.conll"
    conll.write_text("New\u00a0York B-LOC\nis O\n\nLine\u2028sep O\nok O\n", encoding="utf-8")
    sentences = read_conll_numbered(conll)
    assert sentences[0][0] == ["New\u00a0York", "is"]
    assert sentences[1][0] == ["Line\u2028sep", "ok"] and sentences[1][2] == [4, 5]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"t": "one\u2029two", "l": "a"}\n{"t": "x", "l": "b"}\n', encoding="utf-8")
    assert read_table(jsonl, "t", "l") == [("one\u2029two", "a", 1), ("x", "b", 2)]


def test_csv_quoted_newlines_keep_their_words_and_the_line_count(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('text,label\n"line\nsecond",pos\nfine,neg\n')
    assert read_table(path, "text", "label") == [("line\nsecond", "pos", 2), ("fine", "neg", 4)]
    path.write_text('text,label\n"line\nsecond",pos\nfine,neg\nbad,neg,extra\n')
    with pytest.raises(PebenchError, match=r"a.csv:5: expected 2 columns, found 3"):
        read_table(path, "text", "label")


def test_tsv_is_literal(tmp_path: Path) -> None:
    path = tmp_path / "a.tsv"
    path.write_text('label\tsentence\n1\t"quoted" start\n0\tends with "\n')
    rows = read_table(path, "sentence", "label")
    assert [r[0] for r in rows] == ['"quoted" start', 'ends with "']


def test_integer_columns_from_the_command_line_and_a_header_read_as_data(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("pos,great film\nneg,dull film\npos,fun\nneg,slow\n")
    assert read_table(path, "1", "0", header=False)[0] == ("great film", "pos", 1)
    path.write_text("label,text\npos,great film\nneg,dull film\npos,fun\nneg,slow\n")
    with pytest.raises(PebenchError, match=r"a.csv:1: the first row looks like a header"):
        read_table(path, 1, 0, header=False)


def test_jsonl_nulls_are_refused_and_numeric_labels_compare_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"t": "a", "l": 1}\n{"t": "b", "l": 1.0}\n{"t": "c", "l": 2}\n')
    assert [r[1] for r in read_table(path, "t", "l")] == ["1", "1", "2"]
    path.write_text('{"t": "a", "l": 1}\n{"t": "b", "l": null}\n')
    with pytest.raises(PebenchError, match=r"a.jsonl:2: the label is null"):
        read_table(path, "t", "l")
    path.write_text('{"t": null, "l": 1}\n')
    with pytest.raises(PebenchError, match=r"a.jsonl:1: the text is null"):
        read_table(path, "t", "l")


def test_a_tag_unseen_in_training_names_file_and_line(tmp_path: Path) -> None:
    train = "John B-PER\nruns O\n\nMary B-PER\n"
    for name, text in (
        ("train", train),
        ("dev", train),
        ("test", "Paris B-LOC\nsleeps O\n\nAnn O\n"),
    ):
        (tmp_path / f"{name}.conll").write_text(text)
    task = tasks.get("ner")(
        train_file="train.conll",
        validation_file="dev.conll",
        test_file="test.conll",
        data_dir=str(tmp_path),
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(PebenchError, match=r"test.conll:1: tag 'B-LOC' does not occur"):
        task.prepared()


IOB2 = "John B-PER\nvisited O\nParis B-LOC\n\nAcme B-ORG\nhired O\nMary B-PER\nJones I-PER\n"


def _ner(tmp_path: Path, text: str, scheme: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("train", "dev", "test"):
        (tmp_path / f"{name}.conll").write_text(text)
    return tasks.get("ner")(
        train_file="train.conll",
        validation_file="dev.conll",
        test_file="test.conll",
        data_dir=str(tmp_path),
        cache_dir=str(tmp_path / "cache"),
        scheme=scheme,
    )


def test_iob2_data_read_as_iob1_is_refused_instead_of_losing_entities(tmp_path: Path) -> None:
    with pytest.raises(
        PebenchError,
        match=r"train.conll:1: the data is valid IOB2 and read "
        r"as IOB1 it loses entities \(1 instead of 4\); set --task.scheme IOB2",
    ):
        _ner(tmp_path, IOB2, "IOB1").prepared()
    assert _ner(tmp_path / "ok", IOB2, "IOB2").prepared()["train"].num_rows == 2
    iob1 = "John I-PER\nvisited O\nParis I-LOC\nBerlin B-LOC\n"  # B- only between entities
    assert _ner(tmp_path / "iob1", iob1, "IOB1").prepared()["train"].num_rows == 1


def test_hub_data_is_checked_against_the_scheme_like_files(tmp_path: Path, monkeypatch) -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
        }
    )
    data = datasets.Dataset.from_dict(
        {"tokens": [["a", "b"], ["c"]], "ner_tags": [[0, 2], [1]]}, features=features
    )
    task = tasks.get("ner")(hub_dataset="toy", cache_dir=str(tmp_path / "cache"))
    monkeypatch.setattr(type(task), "hub_split", lambda self, split, columns: data)
    with pytest.raises(PebenchError, match=r"hub toy train sentence 1: tag 'I-PER' breaks"):
        task.prepared()


def test_runs_write_validation_and_test_predictions(tmp_path: Path) -> None:
    from pebench import encodings
    from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
    from pebench.benchmark.run.train import train

    def run(task, name: str) -> Path:
        out = tmp_path / name
        train(
            RunSpec(
                task=task,
                encoding=encodings.get("alibi"),
                model=ModelConfig(d_model=16, num_layers=1, num_heads=2),
                train=TrainConfig(max_steps=2, batch_size=2, progress=False, accelerator="cpu"),
                output_dir=out,
            )
        )
        return out

    out = run(_ner(tmp_path / "ner", IOB2, "IOB2"), "ner-run")
    lines = (out / "predictions_test.conll").read_text().split("\n")
    assert lines[0].split("\t")[:2] == ["John", "B-PER"] and lines[3] == ""
    assert len(lines[0].split("\t")) == 3 and (out / "predictions_validation.conll").is_file()
    folder = tmp_path / "cls"
    folder.mkdir()
    for name in ("train", "dev", "test"):
        (folder / f"{name}.csv").write_text('text,label\n"a, b",pos\nc,neg\n')
    task = tasks.get("classification")(
        train_file="train.csv",
        validation_file="dev.csv",
        test_file="test.csv",
        data_dir=str(folder),
        text_column="text",
        cache_dir=str(tmp_path / "cache"),
    )
    out = run(task, "cls-run")
    rows = (out / "predictions_test.csv").read_text().splitlines()
    assert rows[0] == "text,label,prediction"
    assert rows[1].startswith('"a, b",pos,') and rows[1].split(",")[-1] in ("pos", "neg")


def test_several_text_columns_are_joined(tmp_path: Path) -> None:
    path = tmp_path / "ag.csv"
    path.write_text("title,description,label\nWall St,Bears claw back,2\nMars,Rover lands,3\n")
    rows = read_table(path, ["title", "description"], "label", separator=" | ")
    assert rows[0] == ("Wall St | Bears claw back", "2", 2)
    task = tasks.get("classification")(
        train_file="ag.csv",
        validation_file="ag.csv",
        test_file="ag.csv",
        data_dir=str(tmp_path),
        text_column=["title", "description"],
        label_column="label",
        cache_dir=str(tmp_path / "cache"),
    )
    assert task.prepared()["train"][0]["n_words"] == 5
    with pytest.raises(PebenchError, match="ag.csv:2: missing text column 'body'"):
        read_table(path, ["title", "body"], "label")


def test_a_headerless_csv_read_with_a_header_hints_header_false(tmp_path: Path) -> None:
    """AG News style: no header row, columns given by position."""
    path = tmp_path / "raw.csv"
    path.write_text('3,"Wall St. Bears","Short-sellers are back"\n4,"Tech","New chips"\n')
    with pytest.raises(PebenchError, match=r"raw.csv:2: the text column '2' is a position.*"
                       r"set --task.header false"):  # fmt: skip
        read_table(path, "2", "0", header=True)
    assert read_table(path, "2", "0", header=False)[0] == ("Short-sellers are back", "3", 1)
