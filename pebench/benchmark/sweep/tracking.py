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
    ) -> Iterator[TrackedRun]:
        """A W&B run closed in every case; set ``.state`` before leaving the block."""
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
