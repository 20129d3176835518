"""Read back what an offline W&B run recorded (its ``run-*.wandb`` transaction log).

The log is a sequence of 32 KiB blocks of length-prefixed chunks (LevelDB log format) after
a 7-byte file header; each chunk sequence is one protobuf ``Record``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b":W&B", "not a W&B transaction log"
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            records.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            records.append(pending + chunk)
    return records


@dataclass
class OfflineRun:
    run_id: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history_keys: set[str] = field(default_factory=set)


def read_run(run_dir: Path) -> OfflineRun:
    """Group, job type, tags, config and final summary of one offline run directory."""
    (log,) = run_dir.glob("run-*.wandb")
    run = OfflineRun()
    for chunk in _chunks(log.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.group, run.job_type = record.run.run_group, record.run.job_type
            run.run_id = record.run.run_id
            run.tags = list(record.run.tags)
            for item in record.run.config.update:
                run.config[item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                run.config[item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in record.summary.update:
                key = item.key or "/".join(item.nested_key)
                run.summary[key] = json.loads(item.value_json)
        elif kind == "history":
            run.history_keys |= {
                item.key or "/".join(item.nested_key) for item in record.history.item
            }
    return run


def read_runs(root: Path) -> list[OfflineRun]:
    return [read_run(d) for d in sorted((root / "wandb").glob("offline-run-*"))]


def read_runs_when_written(root: Path, count: int, timeout: float = 30.0) -> list[OfflineRun]:
    """``read_runs`` once ``count`` runs have written their run record: wandb's service may
    still be flushing an offline run's log for a moment after ``finish()`` returns."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        runs = read_runs(root)
        if (len(runs) >= count and all(r.job_type for r in runs)) or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)
