"""Fault injection: killed workers, diverging and out-of-memory trials, interrupted runs,
bad input and many concurrent workers never lose or double-count a result."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from optuna.trial import TrialState
from torch import Tensor

from pebench.benchmark.cli import main
from pebench.benchmark.cli.sweep import run_sweep
from pebench.benchmark.run.record import RunRecord
from pebench.benchmark.run.spec import run_spec_from_dict
from pebench.benchmark.run.tracking import Tracker
from pebench.benchmark.run.train import train
from pebench.benchmark.sweep import worker as worker_module
from pebench.benchmark.sweep.config import load_sweep
from pebench.benchmark.sweep.launch import claim_output_dir, create_studies, open_sweep
from pebench.benchmark.sweep.storage import JOURNAL_FILE, WORKER_ATTR, SweepStorage
from pebench.benchmark.sweep.studies import ERROR_ATTR
from pebench.benchmark.sweep.worker import Worker
from pebench.encodings.base import PositionalEncoding
from pebench.errors import PebenchError
from tests import postgres_server
from tests.benchmark.sweep.test_sweep import counted, trials_of, write_sweep

needs_postgres = pytest.mark.skipif(
    postgres_server.available() is not None, reason=str(postgres_server.available())
)


class Diverging(PositionalEncoding):
    """Turns every embedding into NaN in training (no ``name``: stays out of the registry)."""

    def embed(self, x: Tensor, positions: Tensor) -> Tensor:
        return x * float("nan") if self.training else x


class OutOfMemory(PositionalEncoding):
    """Raises the exception a CUDA allocation failure raises."""

    def embed(self, x: Tensor, positions: Tensor) -> Tensor:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_nan_and_oom_trials_fail_with_their_reason_and_the_sweep_goes_on(tmp_path: Path) -> None:
    encodings = ["sinusoidal", f"{__name__}.Diverging", f"{__name__}.OutOfMemory"]
    path = write_sweep(tmp_path, encodings=encodings, trials=2, seeds=[1])
    out = tmp_path / "out"
    run_sweep(path, output_dir=out, wandb="disabled")
    storage = SweepStorage(str(out / JOURNAL_FILE)).optuna
    assert all(t.state == TrialState.COMPLETE for t in trials_of(storage, "tiny/copy/sinusoidal"))
    assert len(trials_of(storage, "tiny/copy/sinusoidal/final")) == 1
    for label, reason in (("Diverging", "training diverged"), ("OutOfMemory", "out of memory")):
        search = trials_of(storage, f"tiny/copy/test_faults.{label}")
        assert len(search) == 2 and all(t.state == TrialState.FAIL for t in search)
        assert all(reason in t.user_attrs[ERROR_ATTR] for t in search)
        run_dir = out / search[0].user_attrs["output_dir"]
        assert (run_dir / "error.txt").is_file() and not (run_dir / "metrics.json").exists()
    assert (out / "leaderboard.md").is_file()  # the leaderboard is written despite failures


def _copy_run(out: Path, steps: int) -> dict[str, Any]:
    return {
        "task": {
            "class_path": "copy",
            "init_args": {"train_lengths": [1, 4], "eval_lengths": [1, 5]},
        },
        "encoding": "rope",
        "model": {"d_model": 16, "num_layers": 1, "num_heads": 2},
        "optim": {"warmup_steps": 2},
        "train": {"max_steps": steps, "batch_size": 8, "progress": False, "checkpoint_every": 4},
        "seed": 3,
        "output_dir": str(out),
    }


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    """Kills training after ``step`` steps, as a lost machine would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if trainer.global_step >= self.step:
            raise _Crash(f"killed at step {trainer.global_step}")


def test_resume_continues_to_the_same_result_as_an_uninterrupted_run(tmp_path: Path) -> None:
    straight, _ = run_spec_from_dict(_copy_run(tmp_path / "a", 10), tmp_path / "a")
    expected = train(straight).as_json()
    interrupted, text = run_spec_from_dict(_copy_run(tmp_path / "b", 10), tmp_path / "b")
    with pytest.raises(_Crash):
        train(interrupted, callbacks=[_CrashAt(6)])
    assert not (tmp_path / "b" / "metrics.json").exists()
    assert (tmp_path / "b" / "checkpoints" / "last.ckpt").is_file()  # saved at step 4
    assert main(["train", "--config", str(tmp_path / "b" / "config.yaml"), "--resume"]) == 0
    resumed = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert resumed["steps"] == expected["steps"] == 10
    assert resumed["summary"] == expected["summary"]
    weights = [
        torch.load(tmp_path / d / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
        for d in ("a", "b")
    ]
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key


def test_resume_refuses_a_directory_made_with_another_configuration(
    tmp_path: Path, capsys
) -> None:
    interrupted, _ = run_spec_from_dict(_copy_run(tmp_path / "b", 10), tmp_path / "b")
    with pytest.raises(_Crash):
        train(interrupted, callbacks=[_CrashAt(6)])
    before = _digest(tmp_path / "b")
    config = str(tmp_path / "b" / "config.yaml")
    other = ["train", "--config", config, "--encoding", "alibi", "--resume"]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "was made with encoding.class_path" in err and "--resume" in err
    assert err.count("\n") == 1 and _digest(tmp_path / "b") == before
    assert main(["train", "--config", config, "--max-steps", "12", "--resume"]) == 2
    assert "train.max_steps: 10" in capsys.readouterr().err
    # its own configuration (progress display aside) still resumes
    assert main(["train", "--config", config, "--resume", "--train.progress", "false"]) == 0


def test_resume_refuses_a_finished_run_or_a_missing_checkpoint(tmp_path: Path, capsys) -> None:
    fresh = ["train", "--task", "copy", "--encoding", "rope", "--output-dir", str(tmp_path / "x")]
    assert main([*fresh, "--resume"]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err
    spec, _ = run_spec_from_dict(_copy_run(tmp_path / "done", 2), tmp_path / "done")
    train(spec)
    before = _digest(tmp_path / "done")
    config = str(tmp_path / "done" / "config.yaml")
    assert main(["train", "--config", config, "--resume"]) == 2
    assert "holds a finished run" in capsys.readouterr().err
    assert _digest(tmp_path / "done") == before


def _kill_a_worker_mid_trial(tmp_path: Path, storage_url: str | None) -> None:
    """SIGKILL a `pebench worker` while its trial runs; resuming fails the orphan, re-runs its
    parameters and ends with the exact budget."""
    long_trial = {"max_steps": 800, "batch_size": 4, "eval_every": 400, "accelerator": "cpu"}
    path = write_sweep(
        tmp_path,
        encodings=["alibi"],
        trials=2,
        seeds=[1],
        pruner={"type": "none"},
        train=long_trial,
    )
    out = tmp_path / "out"
    sweep, text = load_sweep(path)
    claim_output_dir(out, sweep.name)  # as `pebench sweep` does before creating studies
    storage = SweepStorage(storage_url or str(out / JOURNAL_FILE))
    create_studies(storage, sweep, text, out)
    env = {**os.environ, "PEBENCH_NUM_THREADS": "1"}
    url = storage_url or str(out / JOURNAL_FILE)
    command = [sys.executable, "-m", "pebench.benchmark.cli", "worker", "--storage", url]
    command += ["--sweep", "tiny", "--wandb", "disabled"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        running = [
            t for t in trials_of(storage.optuna, "tiny/copy/alibi") if t.state == TrialState.RUNNING
        ]
        if running and (out / running[0].user_attrs.get("output_dir", "?") / "logs").exists():
            break
        time.sleep(0.2)
    else:
        child.kill()
        pytest.fail("the worker never started a trial")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    orphan = running[0]
    # resuming fails the orphan and re-runs its parameters
    run_sweep(path, output_dir=out, storage_url=storage_url, wandb="disabled")
    search = trials_of(storage.optuna, "tiny/copy/alibi")
    assert len(counted(search)) == 2
    failed = [t for t in search if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [orphan.number]
    retried = [t for t in search if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retried) == 1 and retried[0].params == orphan.params
    assert len({t.number for t in search}) == len(search)


def test_sigkilled_worker_on_a_journal_file(tmp_path: Path) -> None:
    _kill_a_worker_mid_trial(tmp_path, None)


@needs_postgres
def test_sigkilled_worker_on_postgresql(tmp_path: Path) -> None:
    with postgres_server.postgres_server() as url:
        _kill_a_worker_mid_trial(tmp_path, url)


def _fast_worker(url: str, index: int) -> None:
    """A forked worker whose trials return at once: only claiming and counting are tested."""
    import random

    def instant(spec: Any, callbacks: Any, loggers: Any, started_at: float) -> RunRecord:
        time.sleep(random.uniform(0, 0.02))
        run = RunRecord("copy", "rope", spec.seed, {"id_exact_match": random.random()}, {})
        Path(spec.output_dir).mkdir(parents=True, exist_ok=True)  # what train() writes
        run.write(Path(spec.output_dir))
        return run

    worker_module._train = instant
    storage = SweepStorage(url)
    handle = open_sweep(storage, "tiny", None)
    tracker = Tracker("disabled", handle.output_dir)
    Worker(storage, handle.sweep, handle.output_dir, tracker, index).run()
    os._exit(0)


def _eight_workers(tmp_path: Path, storage_url: str | None) -> None:
    path = write_sweep(tmp_path, trials=6, seeds=[1, 2], pruner={"type": "none"})
    out = tmp_path / "out"
    sweep, text = load_sweep(path)
    url = storage_url or str(out / JOURNAL_FILE)
    create_studies(SweepStorage(url), sweep, text, out)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_fast_worker, args=(url, i)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * 8
    storage = SweepStorage(url).optuna
    for encoding in ("sinusoidal", "alibi"):
        search = trials_of(storage, f"tiny/copy/{encoding}")
        assert [t.number for t in search] == list(range(6))
        assert all(t.state == TrialState.COMPLETE for t in search)
        final = trials_of(storage, f"tiny/copy/{encoding}/final")
        assert sorted(t.user_attrs["seed"] for t in final) == [1, 2]


def test_eight_workers_on_a_journal_file_keep_the_budget_exact(tmp_path: Path) -> None:
    _eight_workers(tmp_path, None)


@needs_postgres
def test_eight_workers_on_postgresql_keep_the_budget_exact(tmp_path: Path) -> None:
    with postgres_server.postgres_server() as url:
        _eight_workers(tmp_path, url)


def test_unreachable_storage_names_host_and_port_within_seconds(capsys) -> None:
    started = time.monotonic()
    with pytest.raises(PebenchError, match=r"127\.0\.0\.1.*\b9\b"):
        SweepStorage("postgresql://pebench@127.0.0.1:9/pebench")
    assert time.monotonic() - started < 30  # not a timing test: only "does not hang"


def test_a_second_sweep_never_writes_into_another_sweeps_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_sweep(write_sweep(tmp_path, encodings=["alibi"], trials=1, seeds=[1]), output_dir=out,
              wandb="disabled")  # fmt: skip
    before = _digest(out)
    other = write_sweep(tmp_path, name="other", encodings=["alibi"], trials=1, seeds=[1])
    with pytest.raises(PebenchError, match="belongs to sweep 'tiny', not 'other'"):
        run_sweep(other, output_dir=out, wandb="disabled")
    assert _digest(out) == before
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(PebenchError, match="already holds files"):
        run_sweep(other, output_dir=tmp_path / "busy", wandb="disabled")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--task", "copy", "--encoding", "ropee"], "did you mean 'rope'"),
        (["train", "--task", "cpy"], "did you mean 'copy'"),
        (["train", "--task", "copy", "--encoding", "no.such.Module"], "cannot import module"),
        (["train", "--task", "copy", "--model.d_modl", "8"], "d-modl"),
        (["train", "--task", "copy", "--model.d_model", "big"], "d_model"),
        (
            ["train", "--task", "copy", "--encoding", "rope", "--task.train_lengths", "[5, 2]"],
            "train_lengths must be",
        ),
        (
            ["train", "--task", "copy", "--encoding", "rope", "--task.eval_lengths", "[0, 0]"],
            "eval_lengths must be",
        ),
        (["sweep", "configs/sweeps/quick.yaml", "--wandb", "sometimes"], "sometimes"),
        (["sweep", "configs/sweeps/quick.yaml", "--storage", "mysql://x/y"], "unsupported storage"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    out = tmp_path / "out"
    flag = ["--output-dir", str(out)]
    assert main([*argv, *flag]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.rglob("metrics.json"))


def _silent_worker_trial_is_requeued(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pebench.benchmark.sweep import storage as storage_module

    monkeypatch.setattr(storage_module, "GRACE_S", 1)
    storage = SweepStorage(url)
    study = optuna.create_study(study_name="beats", storage=storage.optuna)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage.optuna.set_trial_user_attr(trial._trial_id, WORKER_ATTR, "another-host:1")
    storage.heartbeat(trial._trial_id)
    storage.fail_stale(study)  # a fresh heartbeat: left alone
    assert study.get_trials()[0].state == TrialState.RUNNING
    time.sleep(2.5)  # no heartbeat for longer than the grace period
    storage.fail_stale(study)
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.FAIL, TrialState.WAITING]
    assert study.get_trials()[1].params == trial.params


def test_a_worker_silent_past_the_grace_period_is_failed_on_a_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _silent_worker_trial_is_requeued(str(tmp_path / JOURNAL_FILE), monkeypatch)


@needs_postgres
def test_a_worker_silent_past_the_grace_period_is_failed_on_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with postgres_server.postgres_server() as url:
        _silent_worker_trial_is_requeued(url, monkeypatch)
