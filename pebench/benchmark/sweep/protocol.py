"""A sweep directory's protocol fingerprint, ``protocol.json``: the version of pebench's
evaluation protocol that produced it, the scale it ran at, and a hash of its resolved
definition (tasks, model, budget, search space, trials, selection metric, seeds).

Results are only comparable when they were produced the same way, so ``pebench rank``
refuses a reference directory whose fingerprint does not match what it would run.
:data:`PROTOCOL_VERSION` is raised whenever a change alters what a run with an unchanged
configuration measures (training loop, data generation, metrics, selection rule); results
recorded under another version must be re-run, not merged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from pebench.benchmark.sweep.config import definition

PROTOCOL_VERSION = 1
PROTOCOL_FILE = "protocol.json"


def definition_hash(text: str) -> str:
    """SHA-256 of a resolved sweep definition, independent of YAML layout and key order."""
    doc = definition(yaml.safe_load(text) or {})  # where it runs (slurm:) is not what it is
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint(text: str, scale: str | None) -> dict[str, Any]:
    """What ``protocol.json`` holds for the sweep defined by ``text`` at ``scale``."""
    name = (yaml.safe_load(text) or {}).get("name")
    return {
        "protocol": PROTOCOL_VERSION,
        "sweep": name,
        "scale": scale,
        "definition_sha256": definition_hash(text),
    }


def write_protocol(root: Path, text: str, scale: str | None) -> Path:
    """Record the fingerprint of the sweep in ``root`` (rewritten when the sweep grows)."""
    path = root / PROTOCOL_FILE
    path.write_text(json.dumps(fingerprint(text, scale), indent=2) + "\n")
    return path


def read_protocol(root: Path) -> dict[str, Any] | None:
    """The fingerprint recorded in ``root``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((root / PROTOCOL_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
