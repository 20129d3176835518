"""One run across two processes (Lightning DDP on CPU, gloo) gives one process's results:
evaluation covers every sample exactly once (an uneven split of the batches included) and
equals a one-process evaluation of the same weights exactly; training on the two halves of
each global batch follows the one-process run within floating-point tolerance; only the
first process writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

#: (task, its options): decoder and encoder copy, a Chomsky tape task, arithmetic's grid.
#: Five evaluation batches (one per length or cell row), so the two processes get 3 and 2.
CASES = {
    "copy_decoder": ("copy", ["--task.eval-lengths", "[1, 5]", "--task.eval-samples", "3"]),
    "copy_encoder": ("copy", ["--formulation", "encoder", "--task.eval-lengths", "[1, 5]",
                              "--task.eval-samples", "3"]),
    "parity_check": ("parity_check", ["--task.eval-lengths", "[1, 5]",
                                      "--task.eval-samples", "3"]),
    "addition": ("addition", ["--task.train-digits", "2", "--task.eval-digits", "3",
                              "--task.eval-samples", "2"]),
    "passkey": ("passkey", ["--task.key-length", "3", "--task.filler-size", "5",
                            "--task.train-lengths", "[16, 24]", "--task.eval-lengths", "[16, 32]",
                            "--task.depths", "[0.0, 0.5, 1.0]", "--task.eval-samples", "3"]),
    "lm": ("lm", ["--task.context", "8", "--task.eval-contexts", "[8, 16]",
                  "--task.eval-tokens", "200"]),
    "ner": ("ner", ["--task.scheme", "IOB2"]),
    "classification": ("classification", []),
}  # fmt: skip


def data_files(root: Path) -> dict[str, list[str]]:
    """Small corpora for the tasks that read files: the options naming them, per task."""
    root.mkdir(parents=True, exist_ok=True)
    words = ["Ann", "saw", "Bob", "in", "Rome", "and", "Paris", "today"]
    tags = {"Ann": "B-PER", "Bob": "B-PER", "Rome": "B-LOC", "Paris": "B-LOC"}
    for split, count in (("train", 24), ("dev", 7), ("test", 5)):
        sentences = [words[k % 3 : k % 3 + 3 + k % 5] for k in range(count)]
        (root / f"{split}.conll").write_text("".join(
            "".join(f"{w} {tags.get(w, 'O')}\n" for w in s) + "\n" for s in sentences
        ))  # fmt: skip
        rows = [f"{' '.join(s)}\t{int('Rome' in s)}" for s in sentences]
        (root / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    (root / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog. " * 60)
    def files(suffix: str) -> list[str]:
        """--task.{train,validation,test}-file naming the split files with ``suffix``."""
        names = zip(("train", "validation", "test"), ("train", "dev", "test"), strict=True)
        pairs = [(f"--task.{flag}-file", f"{root}/{name}{suffix}") for flag, name in names]
        return [x for pair in pairs for x in pair]

    return {
        "ner": files(".conll"),
        "classification": files(".tsv"),
        "lm": ["--task.text-file", str(root / "corpus.txt")],
    }


def command(out: Path, task: str, *options: str, steps: int = 12, batch: int = 4,
            devices: int = 2) -> list[str]:  # fmt: skip
    """``pebench train`` of a tiny RoPE model on CPU in a fresh interpreter (DDP's launcher
    re-runs the command line), one CPU thread per process."""
    return [
        sys.executable, "-m", "pebench", "train", "--task", task, "--encoding", "rope", *options,
        "--d-model", "16", "--layers", "1", "--heads", "2", "--max-steps", str(steps),
        "--batch-size", str(batch), "--train.accelerator", "cpu", "--train.devices", str(devices),
        "--train.progress", "false", "--output-dir", str(out), "--threads", "1",
    ]  # fmt: skip


def environment(**extra: str) -> dict[str, str]:
    """This process's environment with the checkout importable (and ``extra``)."""
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3]), **extra}


def pebench_train(out: Path, task: str, options: list[str], devices: int) -> dict[str, Any]:
    """A 12-step run with its checkpoint at the end; its metrics.json."""
    argv = command(out, task, *options, "--lr", "0.01", "--train.checkpoint-every", "12",
                   devices=devices)  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


def evaluate_in_one_process(out: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The run's checkpoint evaluated by one process: validation and test results."""
    from lightning.pytorch import Trainer

    from pebench.benchmark.run.spec import run_spec_from_dict
    from pebench.benchmark.run.train import build

    doc = yaml.safe_load((out / "config.yaml").read_text())
    spec, _ = run_spec_from_dict(doc, out / "again", dump=False)
    module = build(spec)
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 12
    module.load_state_dict(state["state_dict"])
    trainer = Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    data = spec.task.datamodule(4, spec.seed)
    trainer.validate(module, datamodule=data, verbose=False)
    if spec.task.has_test:
        trainer.test(module, datamodule=data, verbose=False)
    return module.last_results, module.test_results


def cells(metrics: dict[str, Any]) -> dict[str, Any]:
    """The per-length (or per-cell) results of a metrics.json or a module's results."""
    return metrics.get("per_cell") or metrics["per_length"]


#: every evaluated length (or cell) of each case, with its number of samples
EXPECTED = {
    "copy_decoder": {str(n): 3 for n in range(1, 6)},
    "copy_encoder": {str(n): 3 for n in range(1, 6)},
    "parity_check": {str(n): 3 for n in range(1, 6)},
    "addition": {f"{i},{j}": 2 for i in range(1, 4) for j in range(1, 4)},
}
#: the results a one-process evaluation writes to files rather than metrics.json
WRITTEN_ELSEWHERE = {"report"}


#: the decoder copy case runs in `make test`; the other families (about 10 s each) are marked
#: slow and run by `.ci/run` after it, which keeps `make test` under 6 minutes
FAST = {"copy_decoder"}


@pytest.mark.parametrize(
    "case",
    [c if c in FAST else pytest.param(c, marks=pytest.mark.slow) for c in sorted(CASES)],
)
def test_two_processes_evaluate_every_sample_once_as_one_process_does(
    case: str, tmp_path: Path
) -> None:
    task, options = CASES[case]
    options = options + data_files(tmp_path / "data").get(task, [])
    two = pebench_train(tmp_path / "two", task, options, devices=2)
    if case in EXPECTED:
        assert {k: v["count"] for k, v in cells(two).items()} == EXPECTED[case]
    # the same weights evaluated by one process: exactly the values the two processes wrote
    alone, test = evaluate_in_one_process(tmp_path / "two")
    for key, value in alone.items():
        if key not in WRITTEN_ELSEWHERE:
            assert two[key] == value, key
    if test is not None:  # the test split, evaluated once after training
        assert {k: v for k, v in test.items() if k not in WRITTEN_ELSEWHERE} == {
            k: v for k, v in two["test"].items() if k not in WRITTEN_ELSEWHERE
        }
    assert two["tokens_per_s"] > 0 and two["steps"] == 12
    assert not (tmp_path / "two" / "again").exists()


def test_two_processes_train_as_one_on_the_same_global_batches(tmp_path: Path) -> None:
    """Each process trains on half of every global batch: the run follows the one-process
    run within float32 rounding (DDP averages the halves' gradients, a different order of
    additions; a copy batch holds one length, so both halves weigh the same)."""
    task, options = CASES["copy_decoder"]
    two = pebench_train(tmp_path / "two", task, options, devices=2)
    one = pebench_train(tmp_path / "one", task, options, devices=1)
    for key, value in one["summary"].items():
        assert two["summary"][key] == pytest.approx(value, abs=1e-4), key
    for length, values in one["per_length"].items():
        assert two["per_length"][length]["token_accuracy"] == pytest.approx(
            values["token_accuracy"], abs=1e-4
        )
    # tokens per second count both processes' tokens: each trained on half
    assert two["tokens_per_s"] * two["train_step_time_s"] == pytest.approx(
        one["tokens_per_s"] * one["train_step_time_s"], rel=1e-6
    )


@pytest.mark.slow  # run by .ci/run after make test
def test_two_nodes_of_one_process_each_over_loopback(tmp_path: Path) -> None:
    """Lightning's multi-node launch by hand, as on a cluster without a scheduler: the same
    command on each "node" with MASTER_ADDR, MASTER_PORT and NODE_RANK (here two processes of
    this machine on 127.0.0.1); only node 0 writes."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task, options = CASES["parity_check"]
    out = tmp_path / "run"
    argv = command(out, task, *options, "--train.num-nodes", "2",
                   "--train.checkpoint-every", "12", devices=1)  # fmt: skip
    base = environment(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    nodes = [
        subprocess.Popen(argv, env={**base, "NODE_RANK": str(rank)}, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for rank in (0, 1)
    ]  # fmt: skip
    outputs = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[1][1][-2000:]
    two = json.loads((out / "metrics.json").read_text())
    assert {k: v["count"] for k, v in two["per_length"].items()} == EXPECTED["parity_check"]
    alone, _ = evaluate_in_one_process(out)
    assert alone["per_length"] == two["per_length"] and alone["summary"] == two["summary"]
    assert "results written" in outputs[0][0] and "results written" not in outputs[1][0]


@pytest.mark.slow  # run by .ci/run after make test
def test_an_interrupted_two_process_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """Ctrl-C after the first checkpoint, then the same command with --resume: the run ends
    at its last step with every length evaluated, as the uninterrupted run does."""
    import signal
    import time

    out = tmp_path / "run"
    argv = command(out, "copy", "--task.eval-lengths", "[1, 5]", "--task.eval-samples", "3",
                   "--train.checkpoint-every", "20", steps=300)  # fmt: skip
    env = environment()
    run = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / "last.ckpt").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # the checkpoint written whole
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    if run.returncode == 0:
        pytest.skip("the run finished before it could be interrupted (a very fast machine)")
    assert b"--resume" in err.splitlines()[-1]
    done = subprocess.run([*argv, "--resume"], env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["steps"] == 300 and 0 < resumed["resumed_from_step"] < 300
    assert {k: v["count"] for k, v in resumed["per_length"].items()} == EXPECTED["copy_decoder"]


def test_a_nan_on_one_process_fails_the_run_naming_its_step(tmp_path: Path) -> None:
    argv = command(tmp_path / "run", "tests.benchmark.run.nan_task.NaNOnSecondProcess", steps=8)
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(), timeout=300)
    assert done.returncode != 0
    said = [line for line in done.stderr.splitlines() if line.startswith("pebench: error:")]
    # every process names the step the NaN first appeared on, whichever process had it
    assert said and all("training diverged: the loss is nan at step 3;" in line for line in said)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_batch_that_cannot_be_split_evenly_is_one_line(tmp_path: Path) -> None:
    argv = command(tmp_path / "run", "copy", steps=2, batch=3)
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(), timeout=300)
    assert done.returncode != 0
    assert "cannot be split evenly among 2 processes" in done.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()
