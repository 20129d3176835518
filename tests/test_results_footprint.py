"""The committed results stay lean: no duplicate files, and the tracked tree fits the GPU
machine's carry limit (64 MiB, with room for wheels)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
#: the tracked tree must stay well under the 64 MiB a GPU run may carry: the carried wheels
#: and data (.whl/ and .device-data/, 15.6 MiB measured 2026-12-06) must fit beside it with
#: room to spare (30 + 15.6 leaves 18 MiB). Journals are compacted (`pebench compact`) and
#: plots are 256-colour PNGs to keep it there (24.8 MiB on 2026-12-07)
TRACKED_LIMIT_MIB = 30


def _tracked(*paths: str) -> list[Path]:
    """Files git tracks under ``paths`` (the committed tree, not what a run left behind)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed tree cannot be listed")
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name and (ROOT / name).is_file()]


def test_results_hold_no_duplicate_files() -> None:
    by_digest: dict[str, list[str]] = defaultdict(list)
    for path in _tracked("results"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        by_digest[digest].append(str(path.relative_to(ROOT)))
    duplicates = [names for names in by_digest.values() if len(names) > 1]
    assert not duplicates, (
        f"{len(duplicates)} sets of identical files under results/, e.g. {duplicates[0][:3]}; "
        f"data-derived files (vocabularies, tokenizers) must not be committed per run"
    )


def test_tracked_tree_is_under_the_limit() -> None:
    size = sum(path.stat().st_size for path in _tracked("."))
    assert size < TRACKED_LIMIT_MIB * 2**20, f"tracked tree is {size / 2**20:.1f} MiB"
