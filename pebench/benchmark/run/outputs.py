"""A run's output directory: what it holds (:mod:`.record` names the files), refusing to
mix a new run into a finished one, what --resume may continue, and what a failed or
interrupted run leaves behind."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from pebench.benchmark.run.record import (
    CHECKPOINT,
    CONFIG_FILE,
    LOGS_DIR,
    METRICS_FILE,
    REPORT_FILES,
)
from pebench.errors import PebenchError, RunInterrupted

#: what a run writes into its directory (replaced by --overwrite)
RUN_OUTPUTS = (
    METRICS_FILE,
    CONFIG_FILE,
    LOGS_DIR,
    str(CHECKPOINT.parent),
    "vocab.json",
    "labels.json",
    *REPORT_FILES.values(),
)


def refuse_finished(path: Path, overwrite: bool) -> None:
    """Refuse to train into ``path`` when it holds a finished run, unless ``overwrite``."""
    if (path / METRICS_FILE).exists() and not overwrite:
        raise PebenchError(
            f"{path} already holds a finished run ({METRICS_FILE}); choose another "
            f"--output-dir or pass --overwrite to replace it"
        )


def prepare_output_dir(path: Path, overwrite: bool) -> None:
    """Create ``path``, refusing to mix a new run into one that already has results."""
    refuse_finished(path, overwrite)
    if path.exists() and not path.is_dir():
        raise PebenchError(f"output path {path} exists and is not a directory; choose another")
    path.mkdir(parents=True, exist_ok=True)
    for name in RUN_OUTPUTS:  # what an earlier run wrote here, replaced by --overwrite
        old = path / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()


def forget_failed_run(path: Path) -> None:
    """After a run failed with nothing to resume (no checkpoint yet), remove the
    ``config.yaml`` it wrote, so the directory does not look like a run; a failure after a
    checkpoint keeps both (``--resume`` continues from it)."""
    if (path / CHECKPOINT).is_file() or (path / METRICS_FILE).exists():
        return
    (path / CONFIG_FILE).unlink(missing_ok=True)


def check_resumable(path: Path, checkpoint: Path) -> None:
    """Refuse --resume where there is nothing to continue."""
    if (path / METRICS_FILE).exists():
        raise PebenchError(
            f"{path} holds a finished run ({METRICS_FILE}); --resume continues interrupted "
            f"runs only (pass --overwrite without --resume to train it again)"
        )
    if not checkpoint.is_file():
        raise PebenchError(
            f"no checkpoint to resume from ({checkpoint} not found); run without --resume"
        )


#: settings that may change between a run and its resumption (they do not change results)
RESUME_FREE = {"output_dir", "overwrite", "resume", "train.progress", "train.accelerator"}


def _flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {prefix[:-1]: doc}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out.update(_flatten(value, f"{prefix}{key}."))
    return out


def _same(key: str, saved: Any, current: Any) -> bool:
    """Equal settings; a task's or encoding's class path names the same class even when the
    saved one predates a move of its module (``pebench.tasks.copy.Copy``)."""
    if saved == current:
        return True
    if key in ("task.class_path", "encoding.class_path") and isinstance(saved, str):
        from pebench import encodings, tasks

        registry = tasks if key == "task.class_path" else encodings
        try:
            return registry.get(saved) is registry.get(current)
        except PebenchError:
            return False
    return False


def check_same_config(path: Path, config_yaml: str | None) -> None:
    """Refuse to resume a run directory with another configuration than the one that made it
    (else a checkpoint of one encoding continues as another and metrics.json disagrees with
    config.yaml). Settings an older pebench did not write are not compared."""
    saved_file = path / CONFIG_FILE
    if config_yaml is None or not saved_file.is_file():
        return
    saved = _flatten(yaml.safe_load(saved_file.read_text()) or {})
    current = _flatten(yaml.safe_load(config_yaml) or {})
    for key, value in current.items():
        if key in RESUME_FREE or key not in saved or _same(key, saved[key], value):
            continue
        raise PebenchError(
            f"{path} was made with {key}: {saved[key]!r} but this run has {key}: {value!r}; "
            f"resume with its own configuration (--config {saved_file} --resume) or train "
            f"into another --output-dir"
        )


def log_version(output_dir: Path, resume: bool) -> str:
    """``logs/metrics.csv`` for a run; a resumed run logs into ``logs/resumed-N/`` instead,
    since Lightning's CSV logger would replace the log of the steps before the resume."""
    if not resume:
        return ""
    n = 1
    while (output_dir / "logs" / f"resumed-{n}").exists():
        n += 1
    return f"resumed-{n}"


def interrupted(path: Path, every: int | None) -> RunInterrupted:
    """The interrupt of a run in ``path``, with what to do next: ``--resume`` when a checkpoint
    was saved, else start again (the first comes at step ``every``)."""
    if (path / CHECKPOINT).is_file():
        return RunInterrupted("; continue with the same command plus --resume")
    when = f" (the first comes at step {every})" if every else ""
    return RunInterrupted(f"; no checkpoint yet{when}: rerun the same command to start again")
