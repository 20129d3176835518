"""Sweeps under damage and misuse (issue 18): damaged journals, racing sweeps, pre-flight
checks, resumed samplers."""

from __future__ import annotations

import json
import multiprocessing
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pebench.benchmark.cli import main
from pebench.benchmark.cli.sweep import run_sweep
from pebench.benchmark.run.tracking import Tracker
from pebench.benchmark.sweep.config import load_sweep
from pebench.benchmark.sweep.launch import SWEEP_MARKER, claim_output_dir, create_studies
from pebench.benchmark.sweep.storage import JOURNAL_FILE, WORKER_ATTR, SweepStorage, worker_id
from pebench.benchmark.sweep.worker import Worker
from pebench.errors import PebenchError
from tests import postgres_server
from tests.benchmark.sweep.test_sweep import trials_of, write_sweep


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    """A finished one-encoding sweep: 2 search trials and one final seed."""
    out = tmp_path / "out"
    run_sweep(write_sweep(tmp_path, encodings=["sinusoidal"], seeds=[1]), out, wandb="disabled")
    return out


def test_unfinished_last_record_is_cut_off_and_said(finished: Path, capsys) -> None:
    journal = finished / JOURNAL_FILE
    intact = journal.read_bytes()
    journal.write_bytes(intact + b'{"op_code": 5, "worker_id": "x", "trial_id": 0, "par')
    storage = SweepStorage(str(journal))
    assert "cut off an unfinished last record" in capsys.readouterr().err
    assert journal.read_bytes() == intact
    search = trials_of(storage.optuna, "tiny/copy/sinusoidal")
    assert [t.state for t in search] == [TrialState.COMPLETE] * 2
    # appending now lands on a clean line: a new process still reads every record
    optuna.create_study(study_name="after-repair", storage=storage.optuna)
    names = optuna.get_all_study_names(SweepStorage(str(journal)).optuna)
    assert "after-repair" in names and "tiny/copy/sinusoidal" in names


def test_damaged_record_inside_the_journal_is_one_line(finished: Path, capsys) -> None:
    journal = finished / JOURNAL_FILE
    lines = journal.read_bytes().split(b"\n")
    lines.insert(3, b"\x00\x00garbage")
    journal.write_bytes(b"\n".join(lines))
    before = journal.read_bytes()
    for command in (["leaderboard", "--output-dir", str(finished)],):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{journal}:4: damaged journal record" in err and "Traceback" not in err
    assert journal.read_bytes() == before  # nothing written


def _claim(root: str, name: str, barrier, results) -> None:
    # widen the race: both processes pass the checks before either writes its marker
    mkdir = Path.mkdir

    def slow_mkdir(self: Path, *args, **kwargs) -> None:
        mkdir(self, *args, **kwargs)
        time.sleep(0.3)

    Path.mkdir = slow_mkdir  # this forked child only
    barrier.wait()
    try:
        claim_output_dir(Path(root), name)
        results.put((name, "claimed"))
    except PebenchError as exc:
        results.put((name, str(exc)))


def test_two_sweeps_racing_for_one_directory_never_both_claim_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        root = tmp_path / f"race-{attempt}"
        barrier, results = context.Barrier(2), context.Queue()
        procs = [
            context.Process(target=_claim, args=(str(root), name, barrier, results))
            for name in ("sweep-a", "sweep-b")
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(30)
        outcomes = dict(results.get(timeout=5) for _ in procs)
        winners = [n for n, outcome in outcomes.items() if outcome == "claimed"]
        assert len(winners) == 1, outcomes
        assert (root / SWEEP_MARKER).read_text().strip() == winners[0]
        loser = outcomes[{"sweep-a": "sweep-b", "sweep-b": "sweep-a"}[winners[0]]]
        assert "choose" in loser and "--output-dir" in loser


def _wait_for_running(storage: SweepStorage, study: str, out: Path, count: int) -> list:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            trials = trials_of(storage.optuna, study)
        except KeyError:  # the journal file exists before the sweep has written its studies
            trials = []
        running = [t for t in trials if t.state == TrialState.RUNNING]
        started = [
            t for t in running if (out / t.user_attrs.get("output_dir", "?") / "logs").exists()
        ]
        if len(started) >= count:
            return started
        time.sleep(0.2)
    pytest.fail("the sweep never started its trials")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _start_long_sweep(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    """`pebench sweep` of alibi trials too long to finish, started as a subprocess, once its
    journal exists."""
    long_trial = {"max_steps": 100_000, "batch_size": 4, "progress": False, "accelerator": "cpu"}
    path = write_sweep(
        tmp_path, encodings=["alibi"], trials=2, seeds=[1], pruner={"type": "none"},
        train=long_trial,
    )  # fmt: skip
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pebench.benchmark.cli", "sweep", str(path)]
    command += ["--output-dir", str(out), "--wandb", "disabled", *extra]
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out / JOURNAL_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return parent, out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigterm_to_a_sweep_stops_its_workers_and_requeues_their_trials(tmp_path: Path) -> None:
    parent, out = _start_long_sweep(tmp_path, "--workers", "2")
    try:
        storage = SweepStorage(str(out / JOURNAL_FILE))
        running = _wait_for_running(storage, "tiny/copy/alibi", out, 2)
        workers = _children(parent.pid)
        assert len(workers) == 2
        parent.send_signal(signal.SIGTERM)
        _, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == 130
    assert "re-run the same command to resume" in err.decode()
    for pid in workers:  # the workers ended with their parent
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    search = trials_of(SweepStorage(str(out / JOURNAL_FILE)).optuna, "tiny/copy/alibi")
    assert not [t for t in search if t.state == TrialState.RUNNING]
    waiting = [t for t in search if t.state == TrialState.WAITING]
    assert sorted(t.params["optim.lr"] for t in waiting) == sorted(
        t.params["optim.lr"] for t in running
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_an_in_process_sweep_mid_trial_exits_130_and_requeues(
    tmp_path: Path, signum: int
) -> None:
    parent, out = _start_long_sweep(tmp_path)
    try:
        running = _wait_for_running(
            SweepStorage(str(out / JOURNAL_FILE)), "tiny/copy/alibi", out, 1
        )
        time.sleep(1.0)  # well inside training
        parent.send_signal(signum)
        _, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == 130, err.decode()
    assert "re-run the same command to resume" in err.decode()
    search = trials_of(SweepStorage(str(out / JOURNAL_FILE)).optuna, "tiny/copy/alibi")
    assert [t.state for t in search] == [TrialState.FAIL, TrialState.WAITING]
    assert search[1].params == running[0].params


def test_a_resumed_search_proposes_no_configuration_it_already_tried(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        encodings=["sinusoidal"],
        trials=4,
        seeds=[1],
        pruner={"type": "none"},
        search_space={"optim.lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True}},
    )
    out = tmp_path / "out"
    sweep, text = load_sweep(path)
    claim_output_dir(out, sweep.name)
    storage = SweepStorage(str(out / JOURNAL_FILE))
    create_studies(storage, sweep, text, out)
    tracker = Tracker("disabled", out)
    Worker(storage, sweep, out, tracker).run(limit=2)  # interrupted after two trials
    Worker(storage, sweep, out, tracker).run(limit=2)  # a new process resumes
    search = trials_of(storage.optuna, "tiny/copy/sinusoidal")
    lrs = [t.params["optim.lr"] for t in search]
    assert len(lrs) == 4 and len(set(lrs)) == 4, lrs


def test_a_final_run_whose_results_were_lost_is_trained_again(
    finished: Path, tmp_path: Path, capsys
) -> None:
    lost = finished / "final" / "copy" / "sinusoidal" / "seed-1" / "metrics.json"
    original = lost.read_text()
    lost.unlink()
    assert main(["leaderboard", "--output-dir", str(finished), "--wandb", "disabled"]) == 0
    assert "missing metrics.json" in capsys.readouterr().out.replace("\n", " ")
    run_sweep(
        write_sweep(tmp_path, encodings=["sinusoidal"], seeds=[1]), finished, wandb="disabled"
    )
    assert lost.is_file() and original  # trained again
    final = trials_of(
        SweepStorage(str(finished / JOURNAL_FILE)).optuna, "tiny/copy/sinusoidal/final"
    )
    assert [t.state for t in final] == [TrialState.COMPLETE] * 2
    md = (finished / "leaderboard.md").read_text()
    assert "missing" not in md and "(1/1)" not in md


def test_a_live_worker_in_another_pid_namespace_keeps_its_trial(tmp_path: Path) -> None:
    """Containers can share a hostname: a PID from another PID namespace says nothing about
    whether that worker lives here, so only its heartbeat counts."""
    path = write_sweep(tmp_path, encodings=["alibi"], seeds=[1], trials=3)
    sweep, text = load_sweep(path)
    out = tmp_path / "out"
    storage = SweepStorage(str(out / JOURNAL_FILE))
    create_studies(storage, sweep, text, out)
    study = optuna.load_study(study_name="tiny/copy/alibi", storage=storage.optuna)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    host, namespace, _ = worker_id().split(":")
    elsewhere = study.ask()
    storage.optuna.set_trial_user_attr(
        elsewhere._trial_id, WORKER_ATTR, f"{host}:9{namespace}:{dead}"
    )
    storage.heartbeat(elsewhere._trial_id)
    here = study.ask()
    storage.optuna.set_trial_user_attr(here._trial_id, WORKER_ATTR, f"{host}:{namespace}:{dead}")
    storage.heartbeat(here._trial_id)
    storage.fail_stale(study)
    states = {t.number: t.state for t in study.get_trials()}
    assert states[elsewhere.number] == TrialState.RUNNING  # alive in its own namespace
    assert states[here.number] == TrialState.FAIL  # same namespace, process gone


def test_a_full_disk_requeues_the_trial_instead_of_spending_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import errno

    from pebench.benchmark.sweep import worker as worker_module

    def no_space(spec, callbacks, loggers, started_at):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(worker_module, "_train", no_space)
    path = write_sweep(tmp_path, encodings=["sinusoidal"], seeds=[1])
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--output-dir", str(out), "--wandb", "disabled"]) == 2
    err = capsys.readouterr().err
    assert "no space left on the device" in err and "re-run the same command" in err
    assert "Traceback" not in err
    search = trials_of(SweepStorage(str(out / JOURNAL_FILE)).optuna, "tiny/copy/sinusoidal")
    assert [t.state for t in search] == [TrialState.FAIL, TrialState.WAITING]
    assert "error" not in search[0].user_attrs  # not a finished trial: the budget is unspent


def test_a_trial_failed_as_stale_meanwhile_is_dropped_quietly(tmp_path: Path, capsys) -> None:
    from pebench.benchmark.sweep import worker as worker_module

    path = write_sweep(
        tmp_path, encodings=["sinusoidal"], seeds=[1], trials=1, pruner={"type": "none"}
    )
    out = tmp_path / "out"
    sweep, text = load_sweep(path)
    claim_output_dir(out, sweep.name)
    storage = SweepStorage(str(out / JOURNAL_FILE))
    create_studies(storage, sweep, text, out)
    real = worker_module._train

    def stale_meanwhile(spec, callbacks, loggers, started_at):
        metrics = real(spec, callbacks, loggers, started_at)
        study = optuna.load_study(study_name="tiny/copy/sinusoidal", storage=storage.optuna)
        running = study.get_trials(states=(TrialState.RUNNING,))
        if running:  # another worker fails it as stale while it trains
            storage.requeue(study, running[0]._trial_id)
        return metrics

    worker_module._train = stale_meanwhile
    try:
        Worker(storage, sweep, out, Tracker("disabled", out)).run(limit=1)
    finally:
        worker_module._train = real
    assert "was failed as stale meanwhile" in capsys.readouterr().err
    search = trials_of(storage.optuna, "tiny/copy/sinusoidal")
    assert [t.state for t in search] == [TrialState.FAIL, TrialState.WAITING]


needs_postgres = pytest.mark.skipif(
    postgres_server.available() is not None, reason=str(postgres_server.available())
)


@needs_postgres
def test_workers_ride_out_a_short_database_outage(tmp_path: Path, capsys) -> None:
    import threading

    with postgres_server.postgres_server() as url:
        long_trial = {"max_steps": 300, "batch_size": 4, "accelerator": "cpu"}
        path = write_sweep(tmp_path, trials=3, seeds=[1], pruner={"type": "none"}, train=long_trial)
        out = tmp_path / "out"
        sweep, text = load_sweep(path)
        storage = SweepStorage(url)
        create_studies(storage, sweep, text, out)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                Worker(SweepStorage(url), sweep, out, Tracker("disabled", out)).run()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        thread = threading.Thread(target=work)
        thread.start()
        # mid-trial (not a fixed delay: with warm imports the tiny sweep ends within seconds)
        _wait_for_running(storage, "tiny/copy/sinusoidal", out, 1)
        postgres_server.outage(url, 6.0)
        thread.join(timeout=300)
        assert not errors, errors
        assert "storage unreachable" in capsys.readouterr().err
        storage = SweepStorage(url)
        for encoding in ("sinusoidal", "alibi"):
            search = trials_of(storage.optuna, f"tiny/copy/{encoding}")
            done = [t for t in search if t.state == TrialState.COMPLETE]
            assert len(done) == 3, [t.state for t in search]
            assert len(trials_of(storage.optuna, f"tiny/copy/{encoding}/final")) >= 1


def test_an_interrupt_swallowed_by_a_destructor_still_stops_the_worker(tmp_path: Path) -> None:
    """Python only prints a KeyboardInterrupt raised inside __del__; the handler's record of
    the stop request must still end the sweep before the next trial."""
    path = write_sweep(tmp_path, encodings=["sinusoidal"], seeds=[1])
    out = tmp_path / "out"
    sweep, text = load_sweep(path)
    storage = SweepStorage(str(out / JOURNAL_FILE))
    create_studies(storage, sweep, text, out)
    worker = Worker(storage, sweep, out, Tracker("disabled", out))
    worker.run(limit=1)
    worker.stop_asked.set()  # as the signal handler does before raising
    with pytest.raises(KeyboardInterrupt):
        worker.run()
    assert len(trials_of(storage.optuna, "tiny/copy/sinusoidal")) == 1


def test_a_joining_worker_takes_the_threads_it_is_given(finished: Path, capsys) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        args = ["worker", "--storage", str(finished / JOURNAL_FILE), "--threads", "1"]
        assert main([*args, "--wandb", "disabled"]) == 0
        assert "worker 0: 1 CPU thread(s)" in capsys.readouterr().out
        assert torch.get_num_threads() == 1
        assert main(["worker", "--storage", str(finished / JOURNAL_FILE), "--threads", "0"]) == 2
        assert "--threads must be at least 1" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)


def test_an_interrupted_final_run_resumes_from_its_checkpoint(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """A final run cut short (Ctrl-C, a killed session) continues from its last checkpoint
    when the sweep is run again, instead of training from step 0."""
    from lightning.pytorch.callbacks import Callback

    from pebench.benchmark.sweep import worker as worker_module

    class StopAt(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            if trainer.global_step == 7:
                raise KeyboardInterrupt

    real_train = worker_module._train
    calls: list[int] = []

    def train_once_interrupted(spec, callbacks, loggers, started_at):
        calls.append(spec.resume)
        extra = [StopAt()] if len(calls) == 1 else []
        return real_train(spec, [*callbacks, *extra], loggers, started_at)

    monkeypatch.setattr(worker_module, "_train", train_once_interrupted)
    train = {"max_steps": 12, "batch_size": 4, "checkpoint_every": 5, "eval_every": 5}
    train["accelerator"] = "cpu"
    path = write_sweep(
        tmp_path, encodings=["sinusoidal"], seeds=[1], trials=0, train=train, search_space={},
        pruner={"type": "none"},
    )
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, out, wandb="disabled")
    run_dir = out / "final" / "copy" / "sinusoidal" / "seed-1"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    log_before = (run_dir / "logs" / "metrics.csv").read_text()
    assert "val/" in log_before
    run_sweep(path, out, wandb="disabled")
    assert (run_dir / "logs" / "metrics.csv").read_text() == log_before  # kept, not replaced
    assert "val/" in (run_dir / "logs" / "resumed-1" / "metrics.csv").read_text()
    assert calls == [False, True]
    assert "resumes from its last checkpoint" in capsys.readouterr().err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["resumed_from_step"] == 5 and metrics["steps"] == 12
    final = trials_of(SweepStorage(str(out / JOURNAL_FILE)).optuna, "tiny/copy/sinusoidal/final")
    assert [t.state for t in final][-1] == TrialState.COMPLETE


def test_a_final_run_with_a_changed_configuration_starts_afresh(tmp_path: Path) -> None:
    from pebench.benchmark.sweep.worker import resumable

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("optim:\n  lr: 0.001\n")
    import torch

    torch.save({"global_step": 3}, run_dir / "checkpoints" / "last.ckpt")
    assert resumable(run_dir, "optim:\n  lr: 0.001\n")
    assert not resumable(run_dir, "optim:\n  lr: 0.002\n")
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"cut short")
    assert not resumable(run_dir, "optim:\n  lr: 0.001\n")


def test_a_requeued_trial_is_not_failed_as_stale_right_after_it_is_claimed(
    tmp_path: Path,
) -> None:
    """A re-queued trial is a copy of the dead one, old heartbeat and worker included; the
    claim replaces them under the lock, so the next look at the study keeps it running
    (it used to fail it at once, and two workers trained the same seed)."""
    path = write_sweep(tmp_path, encodings=["sinusoidal"], seeds=[1], pruner={"type": "none"})
    out = tmp_path / "out"
    sweep, text = load_sweep(path)
    claim_output_dir(out, sweep.name)
    storage = SweepStorage(str(out / JOURNAL_FILE))
    create_studies(storage, sweep, text, out)
    study = optuna.load_study(study_name="tiny/copy/sinusoidal", storage=storage.optuna)
    dead = study.ask()
    storage.optuna.set_trial_user_attr(dead._trial_id, WORKER_ATTR, "elsewhere:1:1")
    storage.optuna.set_trial_user_attr(dead._trial_id, "heartbeat", time.time() - 3600)
    storage.fail_stale(study)  # an hour of silence: failed and queued again, attributes kept
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.WAITING]
    work, _ = Worker(storage, sweep, out, Tracker("disabled", out))._locked_claim()
    assert work is not None and work.trial.number == 1
    storage.fail_stale(study)  # another worker looks right after the claim
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.RUNNING]
    assert study.get_trials()[1].user_attrs[WORKER_ATTR] == worker_id()
