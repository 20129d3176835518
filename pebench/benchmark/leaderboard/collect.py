"""Collecting a leaderboard's finished runs: the final runs of each study, read from its
Optuna storage and the runs' output directories (never from W&B, which may be offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from pebench.benchmark.run.record import METRICS_FILE, RunRecord
from pebench.benchmark.sweep.studies import StudyPlan, TrialAttr, plans

#: one study of a leaderboard and where it lives: (plan, Optuna storage, output root); a
#: ranked leaderboard mixes a reference's studies with those of the ranked encoding
Source = tuple[StudyPlan, Any, Path]


def sources_of(handle: Any) -> list[Source]:
    """The studies of an opened sweep, all in its own storage and directory."""
    return [(plan, handle.storage.optuna, Path(handle.output_dir)) for plan in plans(handle.sweep)]


def final_runs(
    plan: StudyPlan, storage: Any, root: Path, problems: list[str] | None = None
) -> list[RunRecord]:
    """The record of each finished final run of ``plan``; a finished run whose record is
    missing or unreadable is left out and described in ``problems``."""
    study = optuna.load_study(study_name=plan.final_name, storage=storage)
    runs, seen = [], set()
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    for trial in reversed(trials):  # a seed re-run after its results were lost: the newest
        run_dir = trial.user_attrs[TrialAttr.OUTPUT_DIR]
        if run_dir in seen:
            continue
        seen.add(run_dir)
        try:
            runs.append(RunRecord.read(root / run_dir))
        except (OSError, ValueError, TypeError) as exc:
            reason = "missing" if isinstance(exc, FileNotFoundError) else "unreadable"
            if problems is not None:
                problems.append(
                    f"finished run {run_dir} ({plan.final_name}) has a {reason} "
                    f"{METRICS_FILE}; its cell averages the other seeds (re-run the sweep's "
                    f"command to train it again)"
                )
    return runs[::-1]
