"""Runs and sweeps that know where they ran, with their GPU logic pinned on CPU: the GPU
pre-flight checks, ``--gpus`` forcing the GPU accelerator, failure reasons in the progress
lines, a sweep in which nothing succeeded failing, and the device recorded in metrics.json."""

from __future__ import annotations

import io
import json
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from rich.console import Console

from pebench.benchmark.cli.sweep import run_sweep
from pebench.benchmark.run.tracking import Tracker
from pebench.benchmark.run.train import train
from pebench.benchmark.sweep import launch as sweep_run
from pebench.benchmark.sweep.config import load_sweep
from pebench.benchmark.sweep.storage import JOURNAL_FILE, SweepStorage
from pebench.benchmark.sweep.worker import Worker
from pebench.errors import PebenchError
from tests.benchmark.sweep.test_faults import OutOfMemory  # noqa: F401 - the dotted path below names it
from tests.benchmark.sweep.test_sweep import TINY, trials_of, write_sweep
from tests.specs import copy_spec

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")


@pytest.fixture
def started_workers(monkeypatch) -> list[tuple[list[str], dict[str, str]]]:
    """The (command, environment) of every worker process a sweep starts; none really runs."""
    started: list[tuple[list[str], dict[str, str]]] = []

    class FakeWorker:
        returncode = 0

        def __init__(self, command, env, stdout, stderr, preexec_fn=None) -> None:
            started.append((command, env))

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(sweep_run.subprocess, "Popen", FakeWorker)
    return started


def test_gpus_start_one_worker_per_listed_device_pinned_to_it(
    tmp_path: Path, started_workers
) -> None:
    """One worker per id, each seeing only its own device, with its own log."""
    from types import SimpleNamespace

    storage = SimpleNamespace(url=str(tmp_path / JOURNAL_FILE))
    gpu_ids = sweep_run.parse_gpus("3, 5")
    sweep_run._run_processes(storage, SimpleNamespace(name="s"), tmp_path, "disabled", gpu_ids, 2)
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in started_workers] == ["3", "5"]
    assert [cmd[cmd.index("--worker-index") + 1] for cmd, _ in started_workers] == ["0", "1"]
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["worker-0.log", "worker-1.log"]
    with pytest.raises(PebenchError, match="--gpus takes comma-separated GPU indices"):
        sweep_run.parse_gpus(",")


@no_gpu
def test_accelerator_gpu_without_a_gpu_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    path = write_sweep(tmp_path, train={**TINY["train"], "accelerator": "gpu"})
    with pytest.raises(PebenchError, match="accelerator 'gpu' but torch sees no GPU"):
        run_sweep(path, output_dir=tmp_path / "out", wandb="disabled")
    assert not (tmp_path / "out").exists()


@no_gpu
def test_gpus_without_a_gpu_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = write_sweep(tmp_path)
    with pytest.raises(PebenchError, match="--gpus names GPU 0 but torch sees 0 GPU"):
        run_sweep(path, output_dir=tmp_path / "out", gpus="0", wandb="disabled")
    assert not (tmp_path / "out").exists()


@no_gpu
def test_a_single_run_on_a_missing_gpu_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(PebenchError, match="torch sees none"):
        train(copy_spec(tmp_path, "gpu"))
    assert not (tmp_path / "run").exists()


def test_gpus_force_the_gpu_accelerator_on_every_worker(
    tmp_path: Path, monkeypatch, started_workers
) -> None:
    """Several workers may share one GPU (``--gpus 0,0``); each is told to train on it,
    whatever the sweep file's ``accelerator`` says."""
    from types import SimpleNamespace

    started = started_workers
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    sweep = load_sweep(write_sweep(tmp_path), None)[0]
    gpu_ids = sweep_run.parse_gpus("0,0")
    accelerator = sweep_run.preflight(sweep, gpu_ids)
    storage = SimpleNamespace(url=str(tmp_path / JOURNAL_FILE))
    sweep_run._run_processes(storage, sweep, tmp_path, "disabled", gpu_ids, 2, accelerator)
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in started] == ["0", "0"]
    assert all(cmd[cmd.index("--accelerator") + 1] == "gpu" for cmd, _ in started)
    with pytest.raises(PebenchError, match="--gpus names GPU 1 but torch sees 1 GPU"):
        sweep_run.preflight(sweep, ["0", "1"])


def test_worker_accelerator_overrides_the_sweep_file(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, train={**TINY["train"], "accelerator": "auto"}, trials=0,
                       search_space={}, encodings=["sinusoidal"], seeds=[1])  # fmt: skip
    sweep, text = load_sweep(path, None)
    out = tmp_path / "out"
    storage = SweepStorage(str(out / JOURNAL_FILE))
    sweep_run.create_studies(storage, sweep, text, out)
    Worker(storage, sweep, out, Tracker("disabled", out), accelerator="cpu").run()
    run = out / "final" / "copy" / "sinusoidal" / "seed-1"
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["accelerator"] == "cpu"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["device"] == "cpu" and metrics["gpu"] is None
    assert metrics["precision"] == "32-true" and metrics["attention_path"] == "sdpa"


def test_a_sweep_where_every_run_fails_exits_with_the_first_error(tmp_path: Path) -> None:
    failing = "tests.benchmark.sweep.test_faults.OutOfMemory"
    path = write_sweep(tmp_path, encodings=[failing], trials=1, seeds=[1])
    console = Console(file=io.StringIO(), width=200)
    with pytest.raises(PebenchError, match="no run of sweep tiny succeeded.*out of memory"):
        run_sweep(path, output_dir=tmp_path / "out", wandb="disabled", console=console)
    log = console.file.getvalue()
    assert "fail (OutOfMemoryError: CUDA out of memory" in log  # the reason on the line
    storage = SweepStorage(str(tmp_path / "out" / JOURNAL_FILE)).optuna
    search = trials_of(storage, "tiny/copy/tests.benchmark.sweep.test_faults.OutOfMemory")
    assert [t.state for t in search] == [optuna.trial.TrialState.FAIL]

