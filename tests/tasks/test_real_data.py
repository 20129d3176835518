"""The presets on the shared real datasets reach useful scores (slow: minutes each)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pebench.benchmark.cli import main

ROOT = Path(__file__).parents[2]
SHARED = Path(os.environ.get("PEBENCH_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "preset, encoding, metric, floor",
    [("wikiann-en.yaml", "t5", "f1", 0.60), ("sst2.yaml", "rope", "accuracy", 0.75)],
)
def test_preset_on_shared_data(
    tmp_path: Path, monkeypatch, preset, encoding, metric, floor
) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED}; set PEBENCH_DATA_DIR")
    monkeypatch.setenv("PEBENCH_DATA_DIR", str(SHARED))
    monkeypatch.setenv("PEBENCH_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    args = [
        "train",
        "--config",
        str(ROOT / "configs" / "tasks" / preset),
        "--encoding",
        encoding,
        "--train.progress",
        "false",
        "--output-dir",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads((out / "metrics.json").read_text())["test"]["summary"][metric] >= floor


@pytest.mark.slow
def test_tinyshakespeare_preset_reaches_nanogpt_loss(tmp_path: Path, monkeypatch) -> None:
    """nanoGPT's CPU configuration reports ~1.88 validation nats/char; the preset must reach
    <= 1.95 on the same split and budget (about 100 s on 2 cores)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED}; set PEBENCH_DATA_DIR")
    monkeypatch.setenv("PEBENCH_DATA_DIR", str(SHARED))
    out = tmp_path / "run"
    preset = str(ROOT / "configs" / "tasks" / "tinyshakespeare.yaml")
    assert main(["train", "--config", preset, "--output-dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["encoding"] == "learned"
    assert metrics["summary"]["loss"] <= 1.95
    assert metrics["per_length"]["128"]["loss"] is None  # past the 64-position table
