"""The command line: names and dotted paths, config files, overrides and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from pebench import encodings, tasks
from pebench.benchmark.cli import main
from pebench.catalog import listing


def test_train_with_names_and_overrides(fast_args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--task",
            "reverse",
            "--encoding",
            "alibi",
            "--output-dir",
            str(out),
            "--seed",
            "3",
            *fast_args,
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["task"], metrics["encoding"], metrics["seed"]) == ("reverse", "alibi", 3)
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["task"]["class_path"] == "pebench.tasks.synthetic.reverse.Reverse"
    assert config["model"]["d_model"] == 16 and config["train"]["max_steps"] == 2


def test_config_file_with_encoding_options(fast_args: list[str], tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        textwrap.dedent("""
        task: copy
        encoding:
          class_path: rope
          init_args: {base: 500}
        model: {d_model: 16, num_layers: 1, num_heads: 2}
    """)
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--output-dir", str(out), *fast_args]) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["encoding"]["init_args"]["base"] == 500


def test_user_encoding_from_dotted_path(
    fast_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_encodings.py").write_text(
        textwrap.dedent('''
        import torch
        from pebench.encodings.base import ModelDims, PositionalEncoding

        class Stripes(PositionalEncoding):
            """Adds a learned vector to even positions."""

            def __init__(self, dims: ModelDims, scale: float = 1.0):
                super().__init__(dims)
                self.vector = torch.nn.Parameter(torch.zeros(dims.d_model))
                self.scale = scale

            def embed(self, x, positions):
                return x + self.scale * (positions % 2 == 0).unsqueeze(-1) * self.vector
    ''')
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "run"
    args = [
        "train",
        "--task",
        "copy",
        "--encoding",
        "my_encodings.Stripes",
        "--encoding.scale",
        "0.5",
        "--output-dir",
        str(out),
        *fast_args,
    ]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["encoding"] == "my_encodings.Stripes"
    assert metrics["encoding_parameters"] == 16


def test_compare_trains_each_encoding(fast_args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = [
        "compare",
        "--task",
        "copy",
        "--encodings",
        "none",
        "rope",
        "--output-dir",
        str(out),
        *fast_args,
    ]
    assert main(args) == 0
    runs = json.loads((out / "comparison.json").read_text())
    assert [r["encoding"] for r in runs] == ["none", "rope"]
    assert (out / "rope" / "metrics.json").exists() and (out / "none" / "config.yaml").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--task", "copy", "--encoding", "rop"], "did you mean 'rope'"),
        (["train", "--task", "cpy", "--encoding", "rope"], "unknown task 'cpy'"),
        (["train", "--task", "copy", "--encoding", "nowhere.Thing"], "cannot import module"),
        (
            ["train", "--task", "copy", "--encoding", "rope", "--encoding.bse", "2"],
            "has no option 'bse'; its options: base",
        ),
        (
            ["train", "--task", "copy", "--encoding", "rope", "--task.bogus", "2"],
            "task 'copy' has no option 'bogus'; its options: formulation",
        ),
        (["train", "--task", "copy", "--encoding", "rope", "--d-model", "big"], "d_model"),
        (
            ["train", "--task", "copy", "--encoding", "rope", "--task.train_lengths", "[9, 2]"],
            "train_lengths must be a range",
        ),
        (["train", "--config", "missing.yaml"], "config file missing.yaml does not exist"),
        (["train", "--task", "copy", "--encoding", "rope", "--heads", "3"], "not divisible"),
        (["frobnicate"], "unknown command"),
    ],
)
def test_user_errors_are_one_clear_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main([*args, "--output-dir", str(tmp_path / "x")] if args[0] == "train" else args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_malformed_config_names_file_and_line(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("task: copy\nmodel: {d_model: 16\nseed: 1\n")
    assert main(["train", "--config", str(cfg)]) == 2
    assert f"{cfg}:" in capsys.readouterr().err


def test_list_prints_encodings_and_tasks(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("none", "sinusoidal", "learned", "rope", "alibi", "copy", "reverse"):
        assert name in out


@pytest.mark.parametrize("name", sorted(encodings.available()))
def test_list_describes_each_encoding_in_whole_sentences(name: str) -> None:
    text = listing()[0][name]
    assert text.endswith("."), f"{name}: {text!r}"
    assert text.count("(") == text.count(")"), f"{name}: {text!r}"
    assert "  " not in text


def test_list_reads_the_same_plugins_as_the_registries_without_importing_them() -> None:
    """`pebench list` parses the sources (fast start-up); it must agree with the imports.
    The imports are read in a fresh interpreter: this one may hold subclasses other tests
    defined (the registry lists live subclasses)."""
    imported = (
        "import json; from pebench import encodings, tasks; "
        "from pebench.catalog import first_paragraph as f; print(json.dumps(["
        "{n: f(c.__doc__) for n, c in encodings.available().items()}, "
        "{n: c.description or f(c.__doc__) for n, c in tasks.available().items()}]))"
    )
    fresh = subprocess.run([sys.executable, "-c", imported], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    imported_encodings, imported_tasks = json.loads(fresh.stdout.splitlines()[-1])
    listed_encodings, listed_tasks = listing()
    assert list(listed_encodings.items()) == list(imported_encodings.items())
    assert list(listed_tasks.items()) == list(imported_tasks.items())
    code = "import sys, pebench.benchmark.cli as c; c.main(['list']); print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "'torch'" not in out.stdout and "'lightning'" not in out.stdout


LIGHT_COMMANDS = [
    ["train", "--help"],
    ["compare", "--help"],
    ["train", "--task", "copy", "--encoding", "ropee"],
    ["train", "--task", "copy", "--encoding", "rope", "--d-model", "big", "--task.train-lengths"],
    ["compare", "--task", "copy", "--encodings", "rope", "alibii"],
    ["train", "--config", "missing.yaml"],
    ["train", "--task", "copy", "--encoding", "rope", "--encoding.bogus", "3"],
    ["train", "--task", "copy", "--encoding", "alibi", "--task.train-lenghts", "[1, 4]"],
    ["train", "--task", "lm", "--task.text-file", "missing.txt", "--encoding", "rope"],
]


def test_a_missing_data_file_is_named_before_training_starts(tmp_path: Path, capsys) -> None:
    (tmp_path / "dev.conll").write_text("a O\n")
    args = ["train", "--task", "ner", "--task.data-dir", str(tmp_path), "--encoding", "rope",
            "--task.train-file", "nope.conll", "--task.validation-file", "dev.conll",
            "--task.test-file", "dev.conll"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"data file {tmp_path / 'nope.conll'} does not exist" in err
    assert "--task.train-file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("kind", "name"),
    [("encodings", n) for n in encodings.available()] + [("tasks", n) for n in tasks.available()],
)
def test_options_read_from_the_sources_are_the_constructor_arguments(kind: str, name: str) -> None:
    """The torch-free check of --encoding.X/--task.X knows exactly what the class takes (or
    knows that it cannot know, for a constructor taking **kwargs)."""
    import inspect

    from pebench.catalog import options

    cls = (encodings if kind == "encodings" else tasks).get(name)
    parameters = inspect.signature(cls.__init__).parameters
    found = options(kind, name)
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters.values()):
        assert found is None
    else:
        assert found == [p for p in list(parameters)[1:] if p != "dims"]


@pytest.mark.parametrize("args", LIGHT_COMMANDS, ids=" ".join)
def test_train_help_and_generic_mistakes_answer_without_loading_torch(
    args: list[str], tmp_path: Path
) -> None:
    """The start-up target: help and argument errors of train/compare are answered by the
    torch-free first pass (a second of start-up instead of ~5 s)."""
    code = (
        "import sys, pebench.benchmark.cli as c\n"
        "try:\n    status = c.main(sys.argv[1:])\nexcept SystemExit as e:\n    status = e.code\n"
        "print('STATUS', status, 'torch' in sys.modules, 'lightning' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path
    )
    status = 0 if "--help" in args else 2
    assert f"STATUS {status} False False" in out.stdout, out.stdout + out.stderr
    if status:
        assert out.stderr.startswith("pebench: error: ") and "Traceback" not in out.stderr
    else:
        text = " ".join(out.stdout.split())
        assert "--model.d-model" in text and "--task.help NAME" in text


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "pebench"
    result = subprocess.run(
        [str(exe), "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "alibi" in result.stdout


def test_plugin_help_takes_a_registered_name(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["train", "--task.help", "copy"])
    assert stop.value.code == 0
    assert "--task.train-lengths" in capsys.readouterr().out
