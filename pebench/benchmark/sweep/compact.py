"""Compacting a stopped sweep's journal before it is committed.

Two kinds of journal record change nothing once a sweep has stopped. A running trial's
worker records a heartbeat every :data:`~pebench.benchmark.sweep.storage.HEARTBEAT_S`
seconds, and after the trial ends only the last one is ever read (2.7 of the reference
sweep's 4.8 MiB); and every start of a sweep asked Optuna to create each study again, which
replay ignores when the name exists. :func:`compact_journal` drops both: per trial it keeps
the heartbeat that decides its final ``heartbeat`` attribute (not one Optuna ignored because
the trial had already finished), and per study name its first creation. The compacted
journal replays to exactly the same studies and trials (checked before it replaces the
original), so resuming, ``pebench leaderboard`` and ``pebench worker`` read it as before.

Rewriting moves the records, so a process reading the journal at that moment would lose its
place: it runs only on a sweep no worker runs (no trial running; trials waiting to be resumed
are kept as they are), under Optuna's journal lock and pebench's claim lock, and replaces the
file atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import TrialState

from pebench.benchmark.sweep.storage import HEARTBEAT_ATTR, JOURNAL_FILE, SweepStorage
from pebench.errors import PebenchError

# Optuna's journal operation codes (optuna.storages.journal._storage.JournalOperation)
CREATE_STUDY, DELETE_STUDY = 0, 1
CREATE_TRIAL, SET_TRIAL_STATE_VALUES, SET_TRIAL_USER_ATTR = 4, 6, 8
#: trial states in which Optuna still applies a record to a trial
_UPDATABLE = (TrialState.RUNNING.value, TrialState.WAITING.value)


@dataclass(frozen=True)
class Compaction:
    """What :func:`compact_journal` did: the journal, and its size and records before and
    after."""

    path: Path
    bytes_before: int
    bytes_after: int
    records_before: int
    records_after: int


def superseded(records: list[dict[str, Any]]) -> set[int]:
    """Indices of the records a replay ignores or overwrites: a study's creation when a
    study of that name exists, and the heartbeats that decide no trial's final state (a later
    one of the same trial overwrote them, or they came after the trial ended: Optuna ignores
    a record for a finished trial)."""
    studies: dict[int, str] = {}
    next_study = 0
    state: dict[int, int] = {}  # per trial id, in creation order (Optuna numbers them so)
    last: dict[int, int] = {}
    dropped: set[int] = set()
    for index, record in enumerate(records):
        op = record.get("op_code")
        if op == CREATE_STUDY:
            if record["study_name"] in studies.values():
                dropped.add(index)
            else:
                studies[next_study] = record["study_name"]
                next_study += 1
        elif op == DELETE_STUDY:
            studies.pop(record["study_id"], None)
        elif op == CREATE_TRIAL and record["study_id"] in studies:
            state[len(state)] = record.get("state", TrialState.RUNNING.value)
        elif op == SET_TRIAL_STATE_VALUES:
            trial = record["trial_id"]
            if state.get(trial) in _UPDATABLE:
                state[trial] = record["state"]
        elif op == SET_TRIAL_USER_ATTR and set(record["user_attr"]) == {HEARTBEAT_ATTR}:
            trial = record["trial_id"]
            if state.get(trial) not in _UPDATABLE:
                dropped.add(index)
                continue
            if trial in last:
                dropped.add(last[trial])
            last[trial] = index
    return dropped


def compact_journal(target: str | Path) -> Compaction:
    """Rewrite a stopped sweep's journal (``target``: the file or the sweep's output
    directory) without the records a replay ignores or overwrites; raises
    :class:`PebenchError` and leaves the file untouched while a trial runs or when the result
    would not replay the same."""
    if "://" in str(target):
        raise PebenchError(
            f"pebench compact rewrites journal files; {str(target).split('://')[0]} storage "
            f"keeps heartbeats outside the trials and needs no compaction"
        )
    path = Path(target)
    if path.is_dir():
        path = path / JOURNAL_FILE
    if not path.is_file():
        raise PebenchError(
            f"no journal at {path}; give a sweep's output directory or its {JOURNAL_FILE}"
        )
    storage = SweepStorage(str(path))  # checks the journal and mends a cut-off last record
    lock = JournalFileSymlinkLock(str(path))
    with storage.lock():
        lock.acquire()
        try:
            return _rewrite(path)
        finally:
            lock.release()


def _rewrite(path: Path) -> Compaction:
    lines = path.read_bytes().splitlines(keepends=True)
    records = [json.loads(line) for line in lines]
    before = _snapshot(path)
    running = [
        f"{study} #{number}" for study, trials in before.items()
        for number, trial in enumerate(trials) if trial.get("state") == "RUNNING"
    ]  # fmt: skip
    if running:
        raise PebenchError(
            f"{path}: {len(running)} trials are running (e.g. {running[0]}); compact only a "
            f"sweep no worker runs: after it finishes or is interrupted (Ctrl-C re-queues its "
            f"trials; a killed one's are re-queued by re-running it)"
        )
    dropped = superseded(records)
    kept = [line for index, line in enumerate(lines) if index not in dropped]
    handle, temp_name = tempfile.mkstemp(prefix=".compact-", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.writelines(kept)
            out.flush()
            os.fsync(out.fileno())
        if _snapshot(temp) != before:
            raise PebenchError(
                f"{path}: the compacted journal would not replay to the same trials; left "
                f"unchanged (please report this with the journal)"
            )
        os.chmod(temp, path.stat().st_mode & 0o777)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return Compaction(path, sum(map(len, lines)), sum(map(len, kept)), len(lines), len(kept))


def _snapshot(path: Path) -> dict[str, Any]:
    """Every study of a journal as plain values: what a replay of it gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = JournalStorage(JournalFileBackend(str(path)))
    studies: dict[str, Any] = {}
    for summary in storage.get_all_studies():
        study_id = summary._study_id
        trials = storage.get_all_trials(study_id, deepcopy=False)
        studies[summary.study_name] = [
            {
                "state": trial.state.name,
                "values": trial.values,
                "params": trial.params,
                "distributions": {k: repr(v) for k, v in trial.distributions.items()},
                "intermediate": trial.intermediate_values,
                "user_attrs": trial.user_attrs,
                "system_attrs": trial.system_attrs,
                "start": trial.datetime_start,
                "complete": trial.datetime_complete,
            }
            for trial in trials
        ]
        studies[summary.study_name].append(
            {
                "directions": [d.name for d in summary.directions],
                "user_attrs": storage.get_study_user_attrs(study_id),
                "system_attrs": storage.get_study_system_attrs(study_id),
            }
        )
    return studies
