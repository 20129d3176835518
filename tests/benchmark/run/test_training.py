"""Training end to end: fast_dev_run for every encoding × task × formulation, and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pebench import encodings, tasks
from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
from pebench.benchmark.run.train import train
from pebench.errors import PebenchError
from pebench.tasks.synthetic.s2s_copy import FiniteSeq2SeqTask
from pebench.tasks.synthetic.sequence import SequenceTask

ENCODINGS = sorted(encodings.available())
TASKS = sorted(
    n
    for n, c in tasks.available().items()
    if issubclass(c, SequenceTask) and not issubclass(c, FiniteSeq2SeqTask)  # own tests
)
TINY = ModelConfig(d_model=16, num_layers=1, num_heads=2)


def spec(tmp_path: Path, task: str, encoding: str, formulation: str, **train_kw) -> RunSpec:
    return RunSpec(
        task=tasks.get(task)(formulation=formulation, train_lengths=(1, 4), eval_lengths=(1, 6)),
        encoding=encodings.get(encoding),
        model=TINY,
        train=TrainConfig(progress=False, accelerator="cpu", batch_size=4, **train_kw),
        output_dir=tmp_path / "run",
    )


@pytest.mark.parametrize("formulation", ["decoder", "encoder"])
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_fast_dev_run(tmp_path: Path, encoding: str, task: str, formulation: str) -> None:
    run = spec(tmp_path, task, encoding, formulation, fast_dev_run=3)
    if formulation == "encoder" and not encodings.get(encoding).supports_bidirectional:
        with pytest.raises(PebenchError, match="bidirectional"):
            train(run)
        return
    metrics = train(run).as_json()
    assert metrics["encoding"] == encoding and metrics["task"] == task
    assert metrics["steps"] == 3
    assert metrics["parameters"] > 0


def test_short_run_writes_metrics(tmp_path: Path) -> None:
    metrics = train(spec(tmp_path, "copy", "rope", "decoder", max_steps=3)).as_json()
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved == metrics
    assert saved["steps"] == 3
    assert set(saved["summary"]) == {
        "id_token_accuracy",
        "id_exact_match",
        "ood_token_accuracy",
        "ood_exact_match",
    }
    assert sorted(map(int, saved["per_length"])) == list(range(1, 7))
    assert saved["tokens_per_s"] > 0 and saved["wall_time_s"] > 0
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    # the task declares its leaderboard columns for the metric the run is selected on
    assert saved["selected_on"] == "id_exact_match"
    assert saved["columns"] == [
        {"label": "ID", "where": "summary", "key": "id_exact_match", "ranked": False},
        {"label": "OOD", "where": "summary", "key": "ood_exact_match", "ranked": True},
    ]


@pytest.mark.parametrize("command", ["train", "compare"])
def test_a_run_honours_the_requested_cpu_threads(
    command: str, fast_args: list[str], tmp_path: Path, monkeypatch
) -> None:
    """`pebench train` and `compare` beside a sweep take the threads `$PEBENCH_NUM_THREADS`
    gives them (a run that kept torch's default of every core went 10× slower beside one)."""
    import torch

    from pebench.benchmark.cli import main

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setenv("PEBENCH_NUM_THREADS", "1")
    flag = "--encoding" if command == "train" else "--encodings"
    argv = [command, "--task", "copy", flag, "none", "--output-dir", str(tmp_path / "run")]
    try:
        assert main([*argv, *fast_args]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_existing_results_are_not_overwritten(tmp_path: Path) -> None:
    train(spec(tmp_path, "copy", "alibi", "decoder", max_steps=2))
    before = (tmp_path / "run" / "metrics.json").read_text()
    with pytest.raises(PebenchError, match="--overwrite"):
        train(spec(tmp_path, "copy", "alibi", "decoder", max_steps=2))
    assert (tmp_path / "run" / "metrics.json").read_text() == before


def test_same_seed_same_result(tmp_path: Path) -> None:
    a = train(spec(tmp_path / "a", "reverse", "learned", "encoder", max_steps=5)).as_json()
    b = train(spec(tmp_path / "b", "reverse", "learned", "encoder", max_steps=5)).as_json()
    assert a["summary"] == b["summary"] and a["per_length"] == b["per_length"]


def test_metrics_record_the_encoding_variant(tmp_path: Path) -> None:
    encoder = train(spec(tmp_path / "enc", "copy", "alibi", "encoder", fast_dev_run=1)).as_json()
    decoder = train(spec(tmp_path / "dec", "copy", "alibi", "decoder", fast_dev_run=1)).as_json()
    assert encoder["encoding_variant"] == "symmetric"  # the published form is the default
    assert decoder["encoding_variant"] == ""  # the paper's causal ALiBi has no variant


def test_train_compile_traces_training_steps_and_matches_eager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--train.compile runs training steps through torch.compile (here its aot_eager backend:
    traced by dynamo, no C++ build) with eager's results, and checkpoints hold the backbone
    once (a compiled copy in the state dict would break loading it)."""
    import dataclasses

    import torch
    from torch._dynamo.utils import counters

    from tests.specs import copy_spec

    monkeypatch.setenv("PEBENCH_COMPILE_BACKEND", "aot_eager")
    eager = copy_spec(tmp_path / "eager", "cpu")
    compiled = dataclasses.replace(
        copy_spec(tmp_path / "compiled", "cpu"),
        train=dataclasses.replace(eager.train, compile=True),
    )
    before = counters["stats"]["unique_graphs"]
    want, got = train(eager).as_json(), train(compiled).as_json()
    assert counters["stats"]["unique_graphs"] > before
    assert got["summary"] == pytest.approx(want["summary"], abs=1e-4)
    state = torch.load(compiled.output_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert not any("_compiled" in key or "_orig_mod" in key for key in state["state_dict"])


def test_a_run_slurm_restarts_continues_from_its_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """A requeued or preempted SLURM job re-runs the same command: with SLURM_RESTART_COUNT
    set, a directory holding a checkpoint and no results resumes (without it, a new run would
    start over and drop the checkpoint)."""
    first = spec(tmp_path, "copy", "rope", "decoder", max_steps=4, checkpoint_every=2)
    train(first)
    (tmp_path / "run" / "metrics.json").unlink()  # as if the job had been stopped after step 4
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    again = spec(tmp_path, "copy", "rope", "decoder", max_steps=6, checkpoint_every=2)
    again.config_yaml = None  # the run's own config is compared by the CLI path, not here
    run = train(again)
    assert run.resumed_from_step == 4 and run.steps == 6
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    (tmp_path / "run" / "metrics.json").unlink()
    assert train(spec(tmp_path, "copy", "rope", "decoder", max_steps=2)).resumed_from_step is None
