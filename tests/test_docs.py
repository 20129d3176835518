"""The documentation stays true: every encoding documented, the guide's example runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pebench import encodings
from pebench.benchmark.cli import main
from pebench.encodings.base import ModelDims

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
REFERENCE = ModelDims(d_model=64, num_heads=4, num_layers=2, causal=True)


def table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (DOCS / "encodings.md").read_text().splitlines():
        match = re.match(r"\| `([a-z0-9_]+)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


BUILT_IN = sorted(
    n for n, c in encodings.available().items() if c.__module__.startswith("pebench.")
)


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_encoding_is_in_the_table_with_its_parameter_count(name: str) -> None:
    rows = table_rows()
    assert name in rows, f"docs/encodings.md has no row for {name}"
    params = sum(p.numel() for p in encodings.get(name)(REFERENCE).parameters())
    assert rows[name][3] == str(params)


def guide_example(tmp_path: Path) -> Path:
    text = (DOCS / "adding-an-encoding.md").read_text()
    code = re.search(r"```python\n# my_encodings.py\n(.*?)```", text, re.S).group(1)
    (tmp_path / "guide_encodings.py").write_text(code)
    return tmp_path


def test_guide_example_trains_by_dotted_path(
    fast_args: list[str], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.syspath_prepend(str(guide_example(tmp_path)))
    out = tmp_path / "run"
    args = [
        "train",
        "--task",
        "copy",
        "--encoding",
        "guide_encodings.LinearBias",
        "--encoding.init",
        "0.05",
        "--output-dir",
        str(out),
        *fast_args,
    ]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["encoding"] == "linear_bias" and metrics["encoding_parameters"] == 2


def test_guide_example_trains_by_registered_name(
    fast_args: list[str], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.syspath_prepend(str(guide_example(tmp_path)))
    monkeypatch.setenv("PEBENCH_PLUGINS", "guide_encodings")
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--task",
                "copy",
                "--encoding",
                "linear_bias",
                "--output-dir",
                str(out),
                *fast_args,
            ]
        )
        == 0
    )
    assert json.loads((out / "metrics.json").read_text())["encoding"] == "linear_bias"


def test_unimportable_plugin_is_a_clear_error(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PEBENCH_PLUGINS", "no_such_plugin_module")
    assert main(["list"]) == 2
    assert "PEBENCH_PLUGINS" in capsys.readouterr().err


def test_readme_headline_is_the_committed_reference_leaderboard() -> None:
    """The README's headline table is results/reference/leaderboard_compact.md verbatim, so
    regenerating the reference leaderboard without updating the README fails here."""
    generated = ROOT / "results" / "reference" / "leaderboard_compact.md"
    if not generated.exists():
        pytest.skip("results/reference/leaderboard_compact.md is not in this checkout")
    readme = (ROOT / "README.md").read_text()
    match = re.search(
        r"<!-- reference-leaderboard: [^>]*-->\n(.*?)<!-- /reference-leaderboard -->",
        readme,
        re.S,
    )
    assert match, "README.md has lost its reference-leaderboard block"
    assert match.group(1) == generated.read_text()


def test_reproduction_tables_are_rows_of_the_committed_comparisons() -> None:
    """Each table the reproductions page copies from a generated comparison (marked with the
    file it comes from) holds only rows of that file, so figures cannot drift from the runs."""
    page = (DOCS / "reproductions.md").read_text()
    blocks = re.findall(r"<!-- rows of (\S+) -->\n((?:\|.*\n)+)", page)
    assert len(blocks) == 2, "docs/reproductions.md has lost a marked comparison table"
    for source, rows in blocks:
        generated = (ROOT / source).read_text().splitlines()
        for row in rows.splitlines():
            assert row in generated, f"{source} has no row {row!r}"


@pytest.mark.parametrize("group", ["model", "optim", "train"])
def test_usage_option_table_lists_every_setting(group: str) -> None:
    """A new model, optimiser or training option cannot be added without its row in the
    option table of docs/usage.md."""
    from dataclasses import fields

    from pebench.benchmark.run import settings

    kind = {
        "model": settings.ModelConfig,
        "optim": settings.OptimConfig,
        "train": settings.TrainConfig,
    }
    usage = (ROOT / "docs" / "usage.md").read_text()
    row = next(line for line in usage.splitlines() if line.startswith(f"| `--{group}.*` |"))
    missing = [f.name for f in fields(kind[group]) if f"`{f.name}`" not in row]
    assert not missing, f"docs/usage.md's --{group}.* row lacks {missing}"


def test_every_config_file_the_docs_name_exists() -> None:
    """A path like configs/runs/copy-rope.yaml in the README or docs is a file users run."""
    root = Path(__file__).parents[1]
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    named = {
        match
        for path in texts
        for match in re.findall(r"configs/[\w./-]+\.yaml", path.read_text())
    }
    assert named, "the docs name no config files"
    missing = sorted(name for name in named if not (root / name).is_file())
    assert not missing, f"named in the docs but missing: {missing}"
