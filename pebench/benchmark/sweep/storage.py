"""Where a sweep's studies live: an Optuna storage plus a lock that makes the trial budget
exact across workers.

* Default: Optuna's ``JournalStorage`` on a file under the sweep's output directory (no
  server; safe for several processes on one machine, unlike SQLite).
* ``postgresql://user@host:port/db``: Optuna's ``RDBStorage`` for many machines, with
  heartbeats; trials of a dead worker are failed and re-queued
  (``RetryHeartbeatStaleTrialCallback``).

Claiming a trial (count the study's trials, then ``ask``) happens under :meth:`lock` — a
file lock next to the journal, or a PostgreSQL advisory lock — so two workers never both
take the last trial of a budget.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import optuna
from optuna.storages import (
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
    fail_stale_trials,
)
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import FrozenTrial, TrialState

from pebench.errors import PebenchError

T = TypeVar("T")
JOURNAL_FILE = "optuna.journal"
#: seconds between heartbeats of a running trial, and silence after which it is stale
HEARTBEAT_S, GRACE_S = 10, 60
#: study attribute holding the sweep definition (YAML), so a worker needs only the storage
SWEEP_ATTR = "pebench_sweep"
OUTPUT_ATTR = "pebench_output_dir"
#: trial attributes recording who runs a trial and when it last showed signs of life
WORKER_ATTR, HEARTBEAT_ATTR = "worker", "heartbeat"
RETRIES = 3
#: how long storage calls are retried through a database outage before a worker gives up
#: (``$PEBENCH_STORAGE_OUTAGE_S`` overrides it, e.g. for tests)
OUTAGE_S = 120
OUTAGE_ENV = "PEBENCH_STORAGE_OUTAGE_S"
#: seconds to wait for a PostgreSQL server before giving up with a clear error
CONNECT_TIMEOUT_S = 5


class StorageError(PebenchError):
    """Talking to the sweep's storage failed (an outage past the retry limit, a full disk
    under the journal, a database error): the machine's fault, never the trial's. The trial
    is left as it was, and the next run resumes it."""


def outage_seconds() -> float:
    """How long storage calls are retried through an outage: ``$PEBENCH_STORAGE_OUTAGE_S``,
    else :data:`OUTAGE_S`."""
    try:
        return float(os.environ.get(OUTAGE_ENV) or OUTAGE_S)
    except ValueError:
        raise PebenchError(
            f"{OUTAGE_ENV} must be a number of seconds, got {os.environ[OUTAGE_ENV]!r}"
        ) from None


def _namespace() -> str:
    """This process's PID namespace (its inode, Linux), else ``-``: a PID means the same
    process only within one namespace (containers can share a hostname)."""
    try:
        return os.readlink("/proc/self/ns/pid").split("[")[-1].rstrip("]")
    except OSError:
        return "-"


def worker_id() -> str:
    """``host:pid-namespace:pid``, unique to a running process across containers."""
    return f"{socket.gethostname()}:{_namespace()}:{os.getpid()}"


class SweepStorage:
    """An Optuna storage opened from a URL or journal path, with a cross-process lock."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith(("postgresql://", "postgresql+psycopg2://")):
            self.kind = "postgresql"
            # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; pebench ships psycopg2
            driver_url = "postgresql+psycopg2://" + url.split("://", 1)[1]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    self.optuna: Any = RDBStorage(
                        driver_url,
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_S,
                        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                            max_retry=RETRIES
                        ),
                        engine_kwargs={
                            "pool_pre_ping": True,
                            "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S},
                        },
                    )
            except Exception as exc:  # SQLAlchemy/psycopg2 raise many types for one cause
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                raise PebenchError(
                    f"cannot open storage {_redact(url)}: {reason}; check that the server "
                    f"runs and the URL (user, password, host, port, database) is right"
                ) from None
        elif "://" in url:
            raise PebenchError(
                f"unsupported storage {_redact(url)}: use postgresql://... for many machines, "
                f"or a journal file path (SQLite is not safe for parallel workers)"
            )
        else:
            self.kind = "journal"
            path = Path(url)
            if path.is_dir():
                path = path / JOURNAL_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            self.path = path
            lock = JournalFileSymlinkLock(str(path))
            if path.is_file():
                note = check_journal(path, lock)
                if note:
                    print(f"pebench: {note}", file=sys.stderr)
            self.optuna = JournalStorage(JournalFileBackend(str(path), lock_obj=lock))

    def describe(self) -> str:
        return _redact(self.url) if self.kind == "postgresql" else str(self.path)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the sweep-wide claim lock (one holder at a time across processes/machines)."""
        if self.kind == "journal":
            with open(self.path.with_suffix(".lock"), "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        engine = self.optuna.engine
        key = zlib.crc32(b"pebench-claim")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")

    def heartbeat(self, trial_id: int) -> None:
        """Record that a trial's worker is alive."""
        if self.kind == "postgresql":
            self.optuna.record_heartbeat(trial_id)
        else:
            self.optuna.set_trial_user_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def fail_stale(self, study: optuna.Study) -> None:
        """Fail and re-queue the running trials whose worker is gone: a worker on this host
        and in this PID namespace whose process has exited, or (any worker) no heartbeat for
        ``GRACE_S`` seconds."""
        if self.kind == "postgresql":
            fail_stale_trials(study)
        here = f"{socket.gethostname()}:{_namespace()}"
        now = time.time()
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker = str(trial.user_attrs.get(WORKER_ATTR, ""))
            name, _, pid = worker.rpartition(":")
            dead = name == here and pid.isdigit() and not _alive(int(pid))
            silent = (
                self.kind == "journal"
                and now - float(trial.user_attrs.get(HEARTBEAT_ATTR, now)) > GRACE_S
            )
            if dead or silent:
                self._retry(study, trial)

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, retried with backoff while the database is unreachable (a restart, a
        network blip) for up to :func:`outage_seconds`; a storage failure after that, or one
        that retrying cannot cure (a full disk under the journal, a database error), is a
        :class:`StorageError` of one line. Other exceptions pass through as they are."""
        limit = outage_seconds()
        deadline, wait = time.monotonic() + limit, 1.0
        while True:
            try:
                return fn()
            except Exception as exc:
                if not storage_failure(exc):
                    raise  # not the storage's: e.g. a sampler's complaint, the caller's to judge
                if self.kind != "postgresql" or not transient(exc):
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise StorageError(
                        f"storage {self.describe()} failed while {what} "
                        f"({type(exc).__name__}{': ' + reason if reason else ''}); fix the "
                        f"cause, then re-run the same command to resume"
                    ) from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StorageError(
                        f"storage {self.describe()} unreachable for {limit:g} s while {what}; "
                        f"check the server, then re-run the same command to resume"
                    ) from None
                pause = min(wait, remaining)
                print(
                    f"pebench: storage unreachable while {what}; retrying in {pause:.0f} s",
                    file=sys.stderr,
                )
                time.sleep(pause)
                wait = min(wait * 2, 10.0)

    def requeue(self, study: optuna.Study, trial_id: int) -> None:
        """Fail a running trial that was interrupted and queue it again (same parameters and
        attributes, e.g. a final run's seed), so a resumed sweep re-runs it."""
        self._retry(study, self.optuna.get_trial(trial_id))

    def _retry(self, study: optuna.Study, trial: FrozenTrial) -> None:
        try:
            if not self.optuna.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                return
        except RuntimeError:  # finished meanwhile
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            RetryHeartbeatStaleTrialCallback(max_retry=RETRIES)(study, trial)


def storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` came from the storage itself: the journal's file I/O (``OSError``) or
    the database driver (SQLAlchemy, psycopg2), directly or as the cause of another."""
    seen: BaseException | None = exc
    while seen is not None:
        module = type(seen).__module__ or ""
        if isinstance(seen, OSError) or module.startswith(("sqlalchemy", "psycopg2")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a lost database connection, which retrying
    after a while can cure, rather than a mistake."""
    from sqlalchemy import exc as sql

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sql.OperationalError | sql.InterfaceError):
            return True
        if isinstance(seen, sql.DBAPIError) and seen.connection_invalidated:
            return True
        if type(seen).__module__.startswith("psycopg2") and type(seen).__name__ in (
            "OperationalError",
            "InterfaceError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def check_journal(path: Path, lock: JournalFileSymlinkLock) -> str | None:
    """Make a journal safe to append to, under Optuna's own journal lock.

    A last line without its newline was cut short by a crash or a full disk mid-append and was
    never acknowledged to anyone: it is cut off (else the next append would land on it and
    make every later record unreadable); returns a note saying so. Any other line that is not
    JSON is damage pebench cannot repair: a one-line error names the file and line.
    """
    lock.acquire()
    try:
        data = path.read_bytes()
        cut = None
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(path, "r+b") as handle:
                handle.truncate(cut)
                handle.flush()
                os.fsync(handle.fileno())
            data = data[:cut]
    finally:
        lock.release()
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            json.loads(line)
        except ValueError:
            raise PebenchError(
                f"{path}:{number}: damaged journal record (not JSON); restore the file from a "
                f"copy (e.g. git), or delete that line to lose only the records it held"
            ) from None
    if cut is None:
        return None
    return (
        f"{path}: cut off an unfinished last record (a crash or a full disk interrupted its "
        f"write; it was never read); a trial it left running is re-queued as stale"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _redact(url: str) -> str:
    """The URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
