"""Nothing is lost when the storage fails: a database down past the retry limit, or a disk
filling under the journal. A trial whose run finished but could not be recorded is recorded
from its metrics.json on resume; one interrupted is re-queued with its parameters; neither
is ever failed, and no metrics.json is left without a complete trial."""

from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from pebench.benchmark.run.record import METRICS_FILE
from pebench.benchmark.run.tracking import Tracker
from pebench.benchmark.sweep import storage as storage_module
from pebench.benchmark.sweep import worker as worker_module
from pebench.benchmark.sweep.config import load_sweep
from pebench.benchmark.sweep.launch import create_studies
from pebench.benchmark.sweep.storage import JOURNAL_FILE, OUTAGE_ENV, StorageError, SweepStorage
from pebench.benchmark.sweep.studies import ERROR_ATTR, TrialAttr, plans
from pebench.benchmark.sweep.worker import Worker
from tests import postgres_server
from tests.benchmark.sweep.test_sweep import write_sweep

needs_postgres = pytest.mark.skipif(
    postgres_server.available() is not None, reason=str(postgres_server.available())
)
#: a trial whose state is being set to COMPLETE, as the journal writes it
SET_STATE, COMPLETE = 6, TrialState.COMPLETE.value


def _sweep(tmp_path: Path, url: str | None) -> tuple[Any, Path, str]:
    path = write_sweep(tmp_path, encodings=["sinusoidal"], trials=3, seeds=[1],
                       pruner={"type": "none"})  # fmt: skip
    sweep, text = load_sweep(path)
    out = tmp_path / "out"
    url = url or str(out / JOURNAL_FILE)
    create_studies(SweepStorage(url), sweep, text, out)
    return sweep, out, url


def _search(storage: SweepStorage) -> list[Any]:
    """The trials of the sweep's search study."""
    study = storage.optuna.get_study_id_from_name("tiny/copy/sinusoidal")
    return storage.optuna.get_all_trials(study, deepcopy=False)


def _resume(sweep: Any, out: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> SweepStorage:
    """A new worker after the failed one ended: its process is gone (a new run of the sweep)."""
    monkeypatch.setattr(storage_module, "_alive", lambda pid: False)
    storage = SweepStorage(url)
    Worker(storage, sweep, out, Tracker("disabled", out)).run()
    return storage


def _check_nothing_lost(sweep: Any, out: Path, storage: SweepStorage) -> None:
    """The exact budget, every drawn parameter set complete once, no failure without an error
    or a re-queued copy, and every metrics.json a complete trial's."""
    owned = set()
    for plan in plans(sweep):
        for name, budget in ((plan.name, sweep.trials), (plan.final_name, len(sweep.seeds))):
            trials = storage.optuna.get_all_trials(
                storage.optuna.get_study_id_from_name(name), deepcopy=False
            )
            complete = [t for t in trials if t.state == TrialState.COMPLETE]
            assert len(complete) == budget, (name, [t.state for t in trials])
            retried = {t.system_attrs.get("failed_trial") for t in trials}
            for t in trials:
                assert t.state in (TrialState.COMPLETE, TrialState.FAIL), (name, t.state)
                if t.state == TrialState.FAIL:
                    assert ERROR_ATTR in t.user_attrs or t.number in retried, (name, t.number)
            drawn = [tuple(sorted(t.params.items())) for t in complete]
            assert len(set(drawn)) == len(drawn), drawn  # no parameter set run twice
            owned |= {str(out / t.user_attrs[TrialAttr.OUTPUT_DIR]) for t in complete}
    written = {str(p.parent) for p in out.rglob(METRICS_FILE)}
    assert written == owned, written ^ owned  # no orphan, none missing


def test_a_full_disk_while_recording_a_finished_trial_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The journal cannot record a finished trial (no space): the worker stops with one
    line, the trial stays RUNNING, and the resume records it from its metrics.json."""
    sweep, out, url = _sweep(tmp_path, None)
    storage = SweepStorage(url)
    backend = storage.optuna._backend
    append, full = backend.append_logs, []

    def append_logs(logs: list[dict[str, Any]]) -> None:
        finishing = any(log.get("op_code") == SET_STATE and log.get("state") == COMPLETE
                        for log in logs)  # fmt: skip
        if finishing and not full:
            full.append(True)
            raise OSError(errno.ENOSPC, "No space left on device")
        append(logs)

    monkeypatch.setattr(backend, "append_logs", append_logs)
    with pytest.raises(StorageError, match="failed while finishing a trial .OSError: .Errno 28"):
        Worker(storage, sweep, out, Tracker("disabled", out)).run()
    err = capsys.readouterr().err
    assert "stays running: its storage failed" in err and "Traceback" not in err
    first = _search(storage)[0]
    assert first.state == TrialState.RUNNING and (out / first.user_attrs["output_dir"]).is_dir()
    resumed = _resume(sweep, out, url, monkeypatch)
    assert "recorded from its metrics.json" in capsys.readouterr().err
    _check_nothing_lost(sweep, out, resumed)


def test_a_full_disk_during_a_run_and_its_requeue_leaves_it_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Out of space while training, and again while re-queuing: one line, no traceback, the
    trial stays RUNNING; the resume re-queues it and runs its parameters once."""
    sweep, out, url = _sweep(tmp_path, None)
    storage = SweepStorage(url)
    real_train, real_requeue = worker_module._train, storage.requeue
    calls: list[int] = []

    def train(spec: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the second trial: the disk fills mid-run
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_train(spec, *args, **kwargs)

    def requeue(study: Any, trial_id: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(worker_module, "_train", train)
    monkeypatch.setattr(storage, "requeue", requeue)
    with pytest.raises(worker_module.PebenchError, match="no space left on the device"):
        Worker(storage, sweep, out, Tracker("disabled", out)).run()
    err = capsys.readouterr().err
    assert "stays running (storage" in err and "re-queues it" in err and "Traceback" not in err
    states = [t.state for t in _search(storage)]
    assert states == [TrialState.COMPLETE, TrialState.RUNNING], states
    monkeypatch.setattr(worker_module, "_train", real_train)
    monkeypatch.setattr(storage, "requeue", real_requeue)
    _check_nothing_lost(sweep, out, _resume(sweep, out, url, monkeypatch))


@needs_postgres
def test_a_database_down_past_the_retry_limit_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """PostgreSQL stops once a run has finished and stays down past the (shortened) retry
    limit: the worker gives up within that limit, not twice it, leaving the trial RUNNING;
    the resume records it from its metrics.json."""
    limit = 4.0
    monkeypatch.setenv(OUTAGE_ENV, str(limit))
    with postgres_server.postgres_server() as url:
        sweep, out, _ = _sweep(tmp_path, url)
        real_train, stopped = worker_module._train, []

        def train(spec: Any, *args: Any, **kwargs: Any) -> Any:
            run = real_train(spec, *args, **kwargs)
            if not stopped:
                postgres_server.stop(url)
                stopped.append(time.monotonic())
            return run

        monkeypatch.setattr(worker_module, "_train", train)
        with pytest.raises(StorageError, match=f"unreachable for {limit:g} s while finishing"):
            Worker(SweepStorage(url), sweep, out, Tracker("disabled", out)).run()
        gave_up = time.monotonic() - stopped[0]
        print(f"gave up after {gave_up:.1f} s")
        assert gave_up < 1.5 * limit, gave_up  # the limit once, not twice
        assert "Traceback" not in capsys.readouterr().err
        postgres_server.start(url)
        monkeypatch.setattr(worker_module, "_train", real_train)
        resumed = _resume(sweep, out, url, monkeypatch)
        assert "recorded from its metrics.json" in capsys.readouterr().err
        _check_nothing_lost(sweep, out, resumed)
