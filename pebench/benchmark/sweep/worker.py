"""A sweep worker: one process that imports once and runs trials until the sweep is done.

It repeatedly claims work under the storage lock — a search trial of a study whose budget is
not used up, else a final retraining seed of a study whose search has finished — and runs
it as an ordinary training run. Any number of workers, on any machines sharing the storage,
cooperate through Optuna's storage alone (``pebench worker --storage URL --sweep NAME``).
"""

from __future__ import annotations

import errno
import gc
import itertools
import socket
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pebench.benchmark.run.outputs import check_same_config
from pebench.benchmark.run.record import CHECKPOINT, METRICS_FILE, RunRecord
from pebench.benchmark.run.spec import run_spec_from_dict
from pebench.benchmark.run.tracking import Tracker, dashboard_config
from pebench.benchmark.sweep.config import SweepConfig
from pebench.benchmark.sweep.pruning import StepPruningCallback
from pebench.benchmark.sweep.storage import (
    HEARTBEAT_S,
    WORKER_ATTR,
    StorageError,
    SweepStorage,
    worker_id,
)
from pebench.benchmark.sweep.studies import (
    ERROR_ATTR,
    StudyPlan,
    TrialAttr,
    in_budget,
    plans,
    pruner,
    sampler,
)
from pebench.errors import DivergedError, PebenchError

#: seconds between looks at the storage while other workers finish the last trials
POLL_S = 2.0


def resumable(run_dir: Path, config_yaml: str | None) -> bool:
    """Whether an interrupted final run (its worker killed, the trial re-queued) can go on
    from its last checkpoint: no results yet, a checkpoint that loads, the same configuration.
    A final run's directory is fixed by its seed, so the re-queued copy finds it; search
    trials get a new number and start afresh (they are short and their pruner saw steps)."""
    checkpoint = run_dir / CHECKPOINT
    if (run_dir / METRICS_FILE).exists() or not checkpoint.is_file():
        return False
    try:
        check_same_config(run_dir, config_yaml)
        import torch

        torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception:  # another configuration, or a checkpoint cut short by the kill
        return False
    return True


@dataclass
class Work:
    plan: StudyPlan
    study: optuna.Study
    trial: optuna.Trial
    final: bool


class Worker:
    """Runs trials of one sweep until no work is left."""

    def __init__(
        self,
        storage: SweepStorage,
        sweep: SweepConfig,
        output_dir: Path,
        tracker: Tracker,
        worker_index: int = 0,
        on_trial_end: Callable[[Work, str], None] | None = None,
        accelerator: str | None = None,
    ) -> None:
        self.storage, self.sweep, self.root = storage, sweep, Path(output_dir)
        #: every run's accelerator when set (``pebench sweep --gpus``), else the sweep file's
        self.accelerator = accelerator
        self.tracker, self.on_trial_end = tracker, on_trial_end
        #: set when Ctrl-C or SIGTERM arrived; checked between trials
        self.stop_asked = threading.Event()
        self.plans = plans(sweep)
        self.search = {
            p.name: optuna.load_study(study_name=p.name, storage=storage.optuna, pruner=pruner(p))
            for p in self.plans
        }
        for name, study in self.search.items():
            existing = len(study.get_trials(deepcopy=False))
            study.sampler = sampler(sweep, name, worker_index, existing)
        self.final = {
            p.name: optuna.load_study(study_name=p.final_name, storage=storage.optuna)
            for p in self.plans
        }
        self.trials_run = 0

    def run(self, limit: int | None = None) -> int:
        """Run trials until the sweep is complete (or ``limit`` trials ran); returns how many
        this worker ran."""
        while limit is None or self.trials_run < limit:
            if self.stop_asked.is_set():  # an interrupt swallowed somewhere still stops us
                raise KeyboardInterrupt
            work, pending = self.storage.call(self._locked_claim, "claiming a trial")
            if work is None:
                if not pending:
                    return self.trials_run
                time.sleep(POLL_S)
                continue
            self._execute(work)
            self.trials_run += 1
            gc.collect()
        return self.trials_run

    def _locked_claim(self) -> tuple[Work | None, bool]:
        with self.storage.lock():
            work, pending = self._claim()
            if work is not None:
                # a re-queued trial carries its predecessor's worker and heartbeat: replace
                # them before the lock is released, or the next look fails it as stale at once
                trial_id = work.trial._trial_id
                self.storage.optuna.set_trial_user_attr(trial_id, WORKER_ATTR, worker_id())
                self.storage.heartbeat(trial_id)
            return work, pending

    def _claim(self) -> tuple[Work | None, bool]:
        pending = False
        # task by task (search, then final seeds), so a partial sweep has whole columns
        for _, group in itertools.groupby(self.plans, key=lambda plan: plan.task.name):
            group = list(group)
            for plan in group:
                study = self.search[plan.name]
                self.storage.fail_stale(study)
                trials = study.get_trials(deepcopy=False)
                states = Counter(t.state for t in trials)
                if states[TrialState.WAITING] or sum(map(in_budget, trials)) < self.sweep.trials:
                    return Work(plan, study, study.ask(), final=False), True
                pending |= states[TrialState.RUNNING] > 0
            for plan in group:
                work, waiting = self._claim_final(plan)
                if work is not None:
                    return work, True
                pending |= waiting
        return None, pending

    def _claim_final(self, plan: StudyPlan) -> tuple[Work | None, bool]:
        """A final-retraining seed of ``plan``, once its search is over."""
        search = self.search[plan.name].get_trials(deepcopy=False)
        if any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in search):
            return None, True
        searched = self.sweep.trials > 0
        if searched and not any(t.state == TrialState.COMPLETE for t in search):
            return None, False
        study = self.final[plan.name]
        self.storage.fail_stale(study)
        trials = study.get_trials(deepcopy=False)
        if any(t.state == TrialState.WAITING for t in trials):
            return Work(plan, study, study.ask(), final=True), True
        counted = [t for t in trials if in_budget(t)]
        gone = {t.number for t in counted if self._results_lost(t)}  # reads each file once
        lost = Counter(t.user_attrs.get(TrialAttr.SEED) for t in counted if t.number in gone)
        # a seed whose results were lost is trained once more; if they vanish again, the
        # leaderboard reports it instead of the sweep retraining it forever
        used = {
            t.user_attrs.get(TrialAttr.SEED)
            for t in counted
            if t.number not in gone or lost[t.user_attrs.get(TrialAttr.SEED)] > 1
        }
        todo = [seed for seed in self.sweep.seeds if seed not in used]
        if not todo:
            return None, any(t.state == TrialState.RUNNING for t in trials)
        trial = study.ask()
        trial.set_user_attr(TrialAttr.SEED, todo[0])
        if searched:
            best = self.search[plan.name].best_trial
            trial.set_user_attr(TrialAttr.PARAMS, best.params)
            trial.set_user_attr(TrialAttr.SELECTED_TRIAL, best.number)
        else:
            trial.set_user_attr(TrialAttr.PARAMS, {})
        return Work(plan, study, trial, final=True), True

    def _results_lost(self, trial: optuna.trial.FrozenTrial) -> bool:
        """A finished final run of this machine whose metrics.json is gone or unreadable
        (deleted, damaged): its seed is trained again. Runs finished on other machines keep
        their files there, so they are not judged from here."""
        if trial.state != TrialState.COMPLETE:
            return False
        host = str(trial.user_attrs.get(WORKER_ATTR, "")).split(":")[0]
        if host != socket.gethostname():
            return False
        try:
            RunRecord.read(self.root / trial.user_attrs[TrialAttr.OUTPUT_DIR])
        except (OSError, ValueError, KeyError, TypeError):
            return True
        return False

    def _execute(self, work: Work) -> None:
        if self._complete_from_record(work):
            return
        started = time.perf_counter()
        plan, trial = work.plan, work.trial
        if work.final:
            attrs = trial.user_attrs
            params, seed = dict(attrs[TrialAttr.PARAMS]), int(attrs[TrialAttr.SEED])
            run_dir = Path("final") / plan.task.name / plan.encoding_label / f"seed-{seed}"
            label = f"seed-{seed}"
        else:
            params, seed = plan.suggest(trial), self.sweep.search_seed
            run_dir = Path("trials") / plan.task.name / plan.encoding_label
            run_dir /= f"trial-{trial.number:04d}"
            label = f"trial-{trial.number}"
        trial.set_user_attr(TrialAttr.OUTPUT_DIR, str(run_dir))
        doc = plan.run_config(params, seed)
        if self.accelerator:
            doc["train"]["accelerator"] = self.accelerator
        spec, _ = run_spec_from_dict(doc, self.root / run_dir, overwrite=True)
        spec.selected_on = plan.metric
        if work.final and resumable(self.root / run_dir, spec.config_yaml):
            spec.overwrite, spec.resume = False, True
            print(f"pebench: {plan.name} {label} resumes from its last checkpoint", file=sys.stderr)
        config = dashboard_config(
            spec.config_yaml,
            task=plan.task.name,
            encoding=plan.encoding_label,
            params=params,
            study=plan.name,
            task_label=plan.task.name,
            encoding_label=plan.encoding_label,
            trial=trial.number,
            worker=worker_id(),
            stage="final" if work.final else "search",
        )
        callbacks: list[Any] = []
        if not work.final and self.sweep.pruner.type != "none":
            callbacks.append(StepPruningCallback(trial, f"val/{plan.metric}"))
        with (
            self.tracker.run(
                name=f"{plan.name}/{label}",
                group=plan.name,
                job_type="final" if work.final else "trial",
                tags=[plan.task.name, plan.encoding_label],
                config=config,
            ) as tracked,
            self._heartbeat(trial._trial_id),
        ):
            try:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                        run = _train(spec, callbacks, tracked.logger(), started)
                    value = run.summary[plan.metric]
                    self._tell(work, label, value)
                    tracked.state = "complete"
                    tracked.log_lengths(run)
                    tracked.summary({"objective": value})
                except BaseException as exc:
                    self._not_finished(work, exc, run_dir, label, tracked)
            except _TakenOver:
                tracked.state = "interrupted"
        if self.on_trial_end is not None:
            self.on_trial_end(work, tracked.state)

    def _not_finished(
        self, work: Work, exc: BaseException, run_dir: Path, label: str, tracked: Any
    ) -> None:
        """What a trial that did not finish becomes, by what stopped it: a storage failure
        (an outage past the retry limit, a full disk under the journal) is never the trial's
        fault: it stays RUNNING (the next run re-queues it, or records it from its results
        when its run finished) and the worker stops with one line; Ctrl-C or SIGTERM
        re-queues it and stops the worker; a full disk during the run re-queues it, unspent,
        and stops the worker; a pruned trial is told so; a mistake in the sweep (a
        PebenchError other than divergence) fails it and stops the worker; anything else
        (divergence, out of memory, a crash) fails it with its error recorded, and the sweep
        goes on."""
        if isinstance(exc, StorageError):
            tracked.state = "interrupted"
            print(
                f"pebench: {work.plan.name} {label} stays running: its storage failed; the "
                f"next run of the sweep resumes it",
                file=sys.stderr,
            )
            raise exc
        if isinstance(exc, KeyboardInterrupt):
            self._requeue(work, label)
            tracked.state = "interrupted"
            raise exc
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            self._requeue(work, label)
            tracked.state = "interrupted"
            raise PebenchError(
                f"no space left on the device while running {work.plan.name} {label}; free "
                f"space and re-run the same command (that trial runs again)"
            ) from None
        if isinstance(exc, optuna.TrialPruned):
            self._tell(work, label, state=TrialState.PRUNED)
            tracked.state = "pruned"
            tracked.summary({"pruned": str(exc)})
            return
        if isinstance(exc, PebenchError) and not isinstance(exc, DivergedError):
            self._tell(work, label, state=TrialState.FAIL)
            raise exc
        if not isinstance(exc, Exception):
            raise exc
        self._record_failure(work, exc, run_dir, label, tracked)

    def _requeue(self, work: Work, label: str) -> None:
        """Queue an interrupted trial again with its parameters; where the storage cannot
        take it (the disk under the journal is full), leave it RUNNING, which the next run
        re-queues as stale, and say so in one line."""
        try:
            self.storage.call(
                lambda: self.storage.requeue(work.study, work.trial._trial_id),
                "re-queuing a trial",
            )
        except StorageError as exc:
            print(
                f"pebench: {work.plan.name} {label} stays running ({exc}); the next run "
                f"re-queues it",
                file=sys.stderr,
            )

    def _complete_from_record(self, work: Work) -> bool:
        """Tell a re-queued trial COMPLETE from the record its predecessor's finished run
        left (:meth:`_recorded`), without training it again; False when there is none."""
        found = self._recorded(work)
        if found is None:
            return False
        record, where = found
        label = f"trial-{work.trial.number}"
        value = float(record.summary[work.plan.metric])
        try:
            self._tell(work, label, value)
        except _TakenOver:
            return True
        print(
            f"pebench: {work.plan.name} {label}: its run had finished in {where}; recorded "
            f"from its {METRICS_FILE} ({work.plan.metric} {value:.4g})",
            file=sys.stderr,
        )
        if self.on_trial_end is not None:
            self.on_trial_end(work, "complete")
        return True

    def _recorded(self, work: Work) -> tuple[RunRecord, str] | None:
        """The record of a re-queued trial whose predecessor's run finished but could not be
        told to the storage (an outage, a full disk), and its run directory: the
        metrics.json the predecessor left, holding the trial's metric. None otherwise."""
        if TrialAttr.OUTPUT_DIR not in work.trial.user_attrs:  # a fresh trial: no storage read
            return None
        trial = self.storage.call(
            lambda: self.storage.optuna.get_trial(work.trial._trial_id), "claiming a trial"
        )
        if "failed_trial" not in trial.system_attrs:
            return None
        where = str(trial.user_attrs[TrialAttr.OUTPUT_DIR])
        try:
            record = RunRecord.read(self.root / where)
        except (OSError, ValueError, TypeError):
            return None
        return (record, where) if record.summary.get(work.plan.metric) is not None else None

    def _tell(self, work: Work, label: str, value: float | None = None, **kwargs: Any) -> None:
        """Finish the trial, unless another worker already failed it as stale (after a
        storage outage, say): then its re-queued copy runs again and this result is dropped
        with one line, instead of crashing on the finished trial."""
        trial = work.trial
        state = self.storage.call(
            lambda: self.storage.optuna.get_trial(trial._trial_id).state, "finishing a trial"
        )
        if state.is_finished():
            print(
                f"pebench: {work.plan.name} {label} was failed as stale meanwhile; its "
                f"re-queued copy runs instead",
                file=sys.stderr,
            )
            raise _TakenOver
        if value is None:
            self.storage.call(lambda: work.study.tell(trial, **kwargs), "finishing a trial")
        else:
            self.storage.call(lambda: work.study.tell(trial, value, **kwargs), "finishing a trial")

    def _record_failure(
        self, work: Work, exc: BaseException, run_dir: Path, label: str, tracked: Any
    ) -> None:
        """Fail the trial with its reason in the trial's user attributes, its W&B run and
        ``error.txt``, free what it held, and let the worker go on."""
        plan, trial, storage = work.plan, work.trial, self.storage.optuna
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            gc.collect()
            torch.cuda.empty_cache()
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        state = self.storage.call(
            lambda: storage.get_trial(trial._trial_id).state, "recording a failed trial"
        )
        if state.is_finished():
            raise _TakenOver  # failed as stale meanwhile: nothing of ours to record
        self.storage.call(
            lambda: storage.set_trial_user_attr(trial._trial_id, ERROR_ATTR, message),
            "recording a failed trial",
        )
        self._tell(work, label, state=TrialState.FAIL)
        (self.root / run_dir).mkdir(parents=True, exist_ok=True)
        (self.root / run_dir / "error.txt").write_text(traceback.format_exc())
        print(
            f"pebench: {plan.name} {label} failed: {message} "
            f"(traceback in {self.root / run_dir / 'error.txt'})",
            file=sys.stderr,
        )
        tracked.summary({"error": message})

    @contextmanager
    def _heartbeat(self, trial_id: int) -> Iterator[None]:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_S):
                try:
                    self.storage.heartbeat(trial_id)
                except Exception as exc:  # a storage outage: keep beating once it is back
                    print(
                        f"pebench: heartbeat failed ({type(exc).__name__}); retrying",
                        file=sys.stderr,
                    )

        self.storage.heartbeat(trial_id)
        thread = threading.Thread(target=beat, name="pebench-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


class _TakenOver(Exception):
    """The running trial was failed as stale by another worker meanwhile."""


def _train(
    spec: Any, callbacks: list[Any], loggers: list[Any], started_at: float
) -> RunRecord:
    from pebench.benchmark.run.train import train

    return train(spec, callbacks, loggers, started_at=started_at)
