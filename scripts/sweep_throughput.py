"""Runs per minute of a sweep against the number of workers (sharing one GPU, or on CPU):
``pebench sweep`` for a fixed window at each worker count, interrupted as a user would
(it resumes later), counting the runs it finished.

    python scripts/sweep_throughput.py --workers 1 2 4 8 --seconds 90 --device cuda \
        --sweep configs/sweeps/reference.yaml --scale quarter

Each count runs into its own fresh directory under ``--output`` (default
``runs/sweep-throughput``). Reported per count: runs finished in the window, runs per minute
over the window (start-up included) and at steady state (between the first and the last
finished run), and where a run's time goes (what dominates a tiny run): the mean start-up, and
the shares of the runs' wall time spent in training steps, between steps (data loading and
Lightning's bookkeeping) and evaluation, from their ``metrics.json``. Writes
``sweep_throughput.md`` and ``.json`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def command(sweep: str, scale: str | None, workers: int, device: str, out: Path) -> list[str]:
    """The ``pebench sweep`` call: ``--gpus 0,0,..`` (every worker on GPU 0) on CUDA, else
    ``--workers N``."""
    spread = ["--gpus", ",".join(["0"] * workers)] if device == "cuda" else [
        "--workers", str(workers)]  # fmt: skip
    scaled = ["--scale", scale] if scale else []
    return [sys.executable, "-m", "pebench", "sweep", sweep, *scaled, *spread,
            "--output-dir", str(out), "--wandb", "disabled"]  # fmt: skip


def rates(finished: list[float], started: float, stopped: float) -> dict[str, Any]:
    """Runs finished (``finished``: their metrics.json times) in the window from ``started``
    to ``stopped``, per minute over the window and between the first and last of them."""
    done = sorted(t for t in finished if started <= t <= stopped)
    window = stopped - started
    steady = (len(done) - 1) / (done[-1] - done[0]) * 60 if len(done) > 1 else None
    if steady is not None and done[-1] == done[0]:
        steady = None
    return {
        "runs": len(done),
        "window_s": round(window, 1),
        "runs_per_min": round(len(done) / window * 60, 2) if window > 0 else None,
        "steady_runs_per_min": round(steady, 2) if steady else None,
        "first_run_s": round(done[0] - started, 1) if done else None,
    }


#: the metrics.json times whose share of the wall time a count reports
PHASES = {"train_step_time_s": "train steps", "between_steps_time_s": "between steps",
          "eval_time_s": "evaluation"}  # fmt: skip


def breakdown(runs: list[Any]) -> dict[str, Any]:
    """Mean start-up (s) and each phase's share (%) of the runs' summed wall time, from their
    records (:class:`~pebench.benchmark.run.record.RunRecord`)."""
    wall = sum(r.wall_time_s or 0.0 for r in runs)
    starts = [r.startup_s for r in runs if r.startup_s is not None]
    out: dict[str, Any] = {
        "startup_s": round(sum(starts) / len(starts), 2) if starts else None}  # fmt: skip
    for key, label in PHASES.items():
        spent = sum(getattr(r, key) or 0.0 for r in runs)
        out[label] = round(100 * spent / wall, 1) if wall > 0 else None
    return out


def measure(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """One worker count: the sweep for ``args.seconds``, then SIGINT (SIGKILL 60 s later)."""
    out = args.output / f"workers-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.time()
    proc = subprocess.Popen(
        command(args.sweep, args.scale, workers, args.device, out),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        proc.wait(timeout=args.seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stopped = started + args.seconds
    from pebench.benchmark.run.record import METRICS_FILE, RunRecord

    files = [p for p in out.rglob(METRICS_FILE) if p.stat().st_mtime <= stopped]
    finished = [p.stat().st_mtime for p in files]
    runs = [RunRecord.read(p.parent) for p in files]
    return {"workers": workers, **rates(finished, started, stopped), **breakdown(runs)}


def markdown(rows: list[dict[str, Any]]) -> str:
    shares = [f"{label} %" for label in PHASES.values()]
    lines = ["| workers | runs | window s | runs/min | steady runs/min | first run s | "
             "start-up s | " + " | ".join(shares) + " |",
             "| ---: " * (7 + len(shares)) + "|"]  # fmt: skip
    for r in rows:
        cells = [r["workers"], r["runs"], r["window_s"], r["runs_per_min"],
                 r["steady_runs_per_min"], r["first_run_s"], r.get("startup_s"),
                 *(r.get(label) for label in PHASES.values())]  # fmt: skip
        lines.append("| " + " | ".join("–" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", required=True)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--sweep", default="configs/sweeps/reference.yaml")
    parser.add_argument("--scale", default="quarter")
    parser.add_argument("--output", type=Path, default=Path("runs/sweep-throughput"))
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    rows = []
    for workers in args.workers:
        rows.append(measure(args, workers))
        print(f"{workers} workers: {rows[-1]}", flush=True)
    text = markdown(rows)
    (args.output / "sweep_throughput.md").write_text(text)
    (args.output / "sweep_throughput.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(text)
    return 0 if all(r["runs"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
