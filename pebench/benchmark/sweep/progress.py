"""Live sweep progress in the terminal (rich): trials done / budget per study, the best
value so far, and the estimated time left, read from the storage so that it also shows the
work of worker processes and of other machines. When the output is not a terminal (a sweep
run in the background into a log file), one timestamped line per finished trial instead."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import optuna
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    TaskID as ProgressRow,
)

from pebench.benchmark.sweep.config import SweepConfig
from pebench.benchmark.sweep.storage import SweepStorage
from pebench.benchmark.sweep.studies import ERROR_ATTR, TrialAttr, finished, plans

REFRESH_S = 2.0


def reason(trial: optuna.trial.FrozenTrial, width: int = 160) -> str:
    """A failed trial's one-line reason (as its worker recorded it), cut to ``width``."""
    text = str(trial.user_attrs.get(ERROR_ATTR) or "no reason recorded")
    return text if len(text) <= width else text[: width - 1] + "…"


class SweepProgress:
    """A rich progress display refreshed from the sweep's storage: after each trial of an
    in-process worker, or every ``REFRESH_S`` by a background thread while worker processes
    run (``poll=True``; polling in the training process would compete with it for the GIL)."""

    def __init__(
        self, storage_url: str, sweep: SweepConfig, console: Console, poll: bool = False
    ) -> None:
        self.storage_url, self.sweep, self.console, self.poll = storage_url, sweep, console, poll
        self.plans = plans(sweep)
        self.progress = Progress(
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            refresh_per_second=1,
        )
        per_study = sweep.trials + len(sweep.seeds)
        self.total = self.progress.add_task(
            "sweep", total=per_study * len(self.plans), best="trials + final seeds"
        )
        self.rows: dict[str, ProgressRow] = {
            p.name: self.progress.add_task(
                f"{p.task.name}/{p.encoding_label}", total=per_study, best=""
            )
            for p in self.plans
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._storage: SweepStorage | None = None
        #: log lines instead of live bars (a live display prints nothing until it stops)
        self.lines = not console.is_terminal
        self._seen: set[tuple[str, int]] | None = None

    def refresh(self) -> None:
        """Read every study's trials and update the rows."""
        if self._storage is None:
            self._storage = SweepStorage(self.storage_url)
        done_all, ended = 0, []
        for plan in self.plans:
            search = optuna.load_study(study_name=plan.name, storage=self._storage.optuna)
            final = optuna.load_study(study_name=plan.final_name, storage=self._storage.optuna)
            trials = search.get_trials(deepcopy=False)
            final_trials = final.get_trials(deepcopy=False)
            done = sum(map(finished, trials)) + sum(map(finished, final_trials))
            if self.lines:  # the finished trials, for the log lines
                for study, group in ((search, trials), (final, final_trials)):
                    ended += [(plan, study.study_name, t) for t in group if finished(t)]
            complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
            best = ""
            if complete:
                pick = max if plan.direction == "maximize" else min
                best = f"best {plan.metric} {pick(t.value for t in complete):.3f}"
            failed = [
                t for t in trials + final_trials if t.state == optuna.trial.TrialState.FAIL
            ]
            if failed:
                best = f"{best} {len(failed)} failed: {reason(failed[-1], 60)}".strip()
            self.progress.update(self.rows[plan.name], completed=done, best=best)
            done_all += done
        self.progress.update(self.total, completed=done_all)
        if self.lines:
            self._log(ended, done_all)

    def _log(self, ended: list[tuple[Any, str, Any]], done_all: int) -> None:
        """One line per trial finished since the last refresh (a summary on the first)."""
        keys = {(name, t.number) for _, name, t in ended}
        total = self.progress.tasks[self.total].total
        stamp = time.strftime("%H:%M:%S")
        if self._seen is None:
            self.console.print(
                f"{stamp} {done_all}/{total:.0f} trials and seeds finished", soft_wrap=True
            )
        else:
            for plan, name, trial in ended:
                if (name, trial.number) in self._seen:
                    continue
                what = (
                    f"seed {trial.user_attrs.get(TrialAttr.SEED)}"
                    if name == plan.final_name
                    else f"trial {trial.number}"
                )
                value = "" if trial.value is None else f" {plan.metric} {trial.value:.3f}"
                if trial.state == optuna.trial.TrialState.FAIL:
                    value = f" ({reason(trial)})"
                self.console.print(
                    f"{stamp} {done_all}/{total:.0f} {plan.task.name}/{plan.encoding_label} "
                    f"{what}: {trial.state.name.lower()}{value}",
                    highlight=False,
                    soft_wrap=True,
                )
        self._seen = keys

    def trial_ended(self, work: Any, state: str) -> None:
        """Called by an in-process worker after each trial: refresh right away."""
        self.refresh()

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH_S):
            try:
                self.refresh()
            except Exception:  # a journal being appended to can be read mid-write; retry
                continue

    def __enter__(self) -> SweepProgress:
        self.refresh()
        if not self.lines:
            self.progress.start()
        if self.poll:
            self._thread = threading.Thread(target=self._loop, name="pebench-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.refresh()
        finally:
            if not self.lines:
                self.progress.stop()
