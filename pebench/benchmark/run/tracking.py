"""Weights & Biases: one run per trial, final run and leaderboard, kept under the sweep's
output directory.

Each run is grouped by study (``group``), typed by ``job_type`` (``trial``, ``final``,
``leaderboard``), tagged with task and encoding, and always finished — also when its trial
is pruned or fails — with the Optuna state in its summary, so the next trial never reuses it.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pebench.benchmark.run.record import RunRecord
from pebench.errors import PebenchError

Mode = Literal["online", "offline", "disabled"]
MODES = ("online", "offline", "disabled")


def has_api_key() -> bool:
    """Whether W&B credentials are configured (``WANDB_API_KEY`` or ``~/.netrc``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(requested: str | None) -> tuple[Mode, str | None]:
    """The W&B mode to use and, when it was chosen for the user, a note saying why."""
    if requested is None:
        requested = os.environ.get("WANDB_MODE")
        if requested is None:
            if has_api_key():
                return "online", None
            return "offline", "W&B: no API key configured, logging offline"
        requested = {"dryrun": "offline", "run": "online"}.get(requested, requested)
    if requested not in MODES:
        raise PebenchError(f"unknown W&B mode {requested!r}; use one of {', '.join(MODES)}")
    return requested, None  # type: ignore[return-value]


def keep_files_in(root: Path) -> None:
    """Point W&B's caches and settings into ``root`` unless the user placed them already."""
    for var, sub in (
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_CONFIG_DIR", "config"),
        ("WANDB_DATA_DIR", "data"),
        ("WANDB_ARTIFACT_DIR", "artifacts"),
    ):
        path = Path(os.environ.setdefault(var, str(root / ".cache" / "wandb" / sub)))
        path.mkdir(parents=True, exist_ok=True)  # wandb-core silently logs nothing otherwise


@dataclass
class Tracker:
    """How this sweep logs to W&B."""

    mode: Mode
    root: Path
    project: str = "pebench"

    @property
    def enabled(self) -> bool:
        return self.mode != "disabled"

    def sync_hint(self) -> str:
        return f"upload later with: wandb sync {self.root / 'wandb'}/offline-run-*"

    @contextmanager
    def run(
        self,
        name: str,
        group: str,
        job_type: str,
        tags: list[str],
        config: dict[str, Any],
        run_id: str | None = None,
    ) -> Iterator[TrackedRun]:
        """A W&B run closed in every case; set ``.state`` before leaving the block. With
        ``run_id`` the same W&B run is updated each time (a leaderboard rebuilt)."""
        tracked = TrackedRun(None)
        if not self.enabled:
            yield tracked
            return
        import wandb

        keep_files_in(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        tracked.run = wandb.init(
            project=self.project,
            dir=str(self.root),
            name=name,
            group=group,
            job_type=job_type,
            tags=tags,
            config=config,
            mode=self.mode,
            reinit="finish_previous",
            id=run_id,
            resume="allow" if run_id else None,
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
        try:
            yield tracked
        finally:
            tracked.run.summary["optuna_state"] = tracked.state
            tracked.run.finish(exit_code=0 if tracked.state in ("complete", "pruned") else 1)


@dataclass
class TrackedRun:
    """An open W&B run (``None`` when tracking is disabled) and the state it will close with."""

    run: Any
    state: str = "failed"

    def logger(self) -> list[Any]:
        """Lightning loggers writing into this run (none when disabled)."""
        if self.run is None:
            return []
        from lightning.pytorch.loggers import WandbLogger

        return [WandbLogger(experiment=self.run, log_model=False)]

    def summary(self, values: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.summary.update(values)

    def log_lengths(self, run: RunRecord) -> None:
        """The run's per-length results as a W&B table (``per_length``: one row per length
        or bucket, a column per metric) and, for numeric lengths, a line plot per metric: the
        length-generalization curve as a dashboard panel."""
        rows = length_rows(run.per_length)
        if self.run is None or rows is None:
            return
        import wandb

        columns, data = rows
        table = wandb.Table(columns=columns, data=data)
        logged: dict[str, Any] = {"per_length": table}
        if all(isinstance(row[0], int) for row in data):
            for metric in columns[1:]:
                logged[f"per_length/{metric}"] = wandb.plot.line(
                    table, "length", metric, title=f"{metric} by length"
                )
        self.run.log(logged)


def length_rows(per_length: dict[str, Any]) -> tuple[list[str], list[list[Any]]] | None:
    """(columns, rows) of a run's ``per_length`` results: the length (an int when it is one,
    else the bucket's name) and every numeric metric; None when there are none."""
    if not isinstance(per_length, dict) or not per_length:
        return None
    names = sorted(
        {k for v in per_length.values() if isinstance(v, dict) for k, x in v.items()
         if isinstance(x, int | float) and not isinstance(x, bool)}
    )  # fmt: skip
    if not names:
        return None
    rows = []
    for key, values in per_length.items():
        length: Any = int(key) if str(key).isdigit() else str(key)
        rows.append([length, *((values or {}).get(name) for name in names)])
    rows.sort(key=lambda row: (isinstance(row[0], str), row[0]))
    return ["length", *names], rows


def dashboard_config(config_yaml: str | None, **extra: Any) -> dict[str, Any]:
    """Every resolved setting of a run (its ``config.yaml``), flattened so a W&B dashboard can
    filter and group by it: ``task`` and ``encoding`` (their class paths, replaced by the
    names callers pass in ``extra``), their options ``task.train_lengths`` and
    ``encoding.base``; ``model.d_model``, ``optim.lr``, ``seed``, and so on. ``extra``
    (names, trial number, study, worker) is added last."""
    import yaml

    doc = yaml.safe_load(config_yaml or "") or {}
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("task", "encoding") and isinstance(value, dict):
            flat[key] = str(value.get("class_path", ""))  # callers pass the registered name
            for option, setting in (value.get("init_args") or {}).items():
                flat[f"{key}.{option}"] = setting
        elif isinstance(value, dict):
            for setting, v in value.items():
                flat[f"{key}.{setting}"] = v
        else:
            flat[key] = value
    return {**flat, **extra}
