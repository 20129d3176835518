"""``make gpu-check``: everything pebench claims about GPUs, checked in one go on one GPU.

Steps (each in its own process, each with a time limit, a failure is a row, not an abort):

1. the ``cuda`` tests (every encoding against a float64 CPU reference, FlexAttention against
   SDPA forward and backward, no recompile per length, bf16, cached decoding, the device
   recorded by a Lightning run);
2. ``pebench bench --device cuda --precision bf16`` at d1024/L12/H16/T2048/B8, every encoding
   in its own process (an out-of-memory or failing encoding is a row that says so);
3. ``pebench train`` of copy with ALiBi for 1,500 steps, evaluation included;
4. ``pebench train`` of the tinyshakespeare preset (500 steps);
5. ``pebench sweep configs/sweeps/demo.yaml --gpus 0,0,0,0``: four workers sharing the GPU.

It prints one summary table and writes ``gpu_check.json``, ``gpu_check.md`` and the bench
JSON into ``$OUT`` when set (the device machine's return folder), else ``runs/gpu-check``.
Exit status 1 when a step failed. Its step limits add up to 520 s, to fit one 600 s device call;
``pebench bench`` writes its JSON after every model, so a bench stopped at its limit keeps
what it measured. On an H200 (2026-12-04) the cuda tests took 43 s, copy/alibi 42 s,
tinyshakespeare 21 s and the sweep 67 s; compiling FlexAttention takes each bias encoding
over 30 s, so bench reaches only part of the zoo in one call (``--timeout 90`` per model).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(os.environ.get("OUT") or ROOT / "runs" / "gpu-check")
PEBENCH = [sys.executable, "-m", "pebench"]
BENCH_SIZE = ["--d-model", "1024", "--layers", "12", "--heads", "16", "--seq-len", "2048"]
BENCH_SIZE += ["--batch-size", "8"]


@dataclass
class Step:
    name: str
    ok: bool
    wall_s: float
    summary: str


def run(name: str, command: list[str], limit_s: float, work: Path) -> tuple[Step, str]:
    """Run one step, keeping the tail of its output in ``work/<name>.log``."""
    started = time.perf_counter()
    log = work / f"{name}.log"
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=limit_s, check=False
        )
        output, ok = done.stdout + done.stderr, done.returncode == 0
        why = "" if ok else f"exit {done.returncode}: {_last_line(output)}"
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        ok, why = False, f"stopped after {limit_s:.0f} s"
    log.write_text(output)
    wall = time.perf_counter() - started
    print(f"[{name}] {'ok' if ok else 'FAILED'} in {wall:.0f} s {why}", flush=True)
    return Step(name, ok, wall, why), output


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _metrics(directory: Path) -> dict:
    path = directory / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def main() -> int:
    import torch

    OUT.mkdir(parents=True, exist_ok=True)
    work = ROOT / "runs" / "gpu-check"
    work.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"gpu-check on {gpu}, torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    steps: list[Step] = []

    step, output = run(
        "cuda-tests",
        [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-x", "-p", "no:cacheprovider",
         "tests/test_cuda.py"],
        100, work,
    )  # fmt: skip
    step.ok = step.ok and " passed" in output  # all skipped (no GPU) is not a pass
    step.summary = _last_line(output) if step.ok else step.summary or _last_line(output)
    steps.append(step)

    bench_json = OUT / "bench.json"
    step, output = run(
        "bench",
        [*PEBENCH, "bench", "--device", "cuda", "--precision", "bf16", *BENCH_SIZE,
         "--warmup", "1", "--repeats", "1", "--steps", "2", "--timeout", "90",
         "--output", str(bench_json)],
        230, work,
    )  # fmt: skip
    if bench_json.is_file():
        results = json.loads(bench_json.read_text())["results"]
        failed = [r["name"] for r in results if r.get("error")]
        step.ok = step.ok and not failed
        step.summary = f"{len(results) - len(failed)} measured" + (
            f"; failed: {', '.join(failed)}" if failed else ""
        )
    steps.append(step)

    copy_dir = work / "copy-alibi"
    step, _ = run(
        "train-copy-alibi",
        [*PEBENCH, "train", "--task", "copy", "--encoding", "alibi", "--max-steps", "1500",
         "--train.accelerator", "gpu", "--train.progress", "false", "--output-dir",
         str(copy_dir), "--overwrite"],
        60, work,
    )  # fmt: skip
    m = _metrics(copy_dir)
    if m:
        step.summary = (
            f"{m.get('device')} {m.get('gpu')}; wall {m.get('wall_time_s', 0):.0f} s; "
            f"OOD exact {m['summary'].get('ood_exact_match', float('nan')):.2f}"
        )
        step.ok = step.ok and str(m.get("device", "")).startswith("cuda")
    steps.append(step)

    lm_dir = work / "shakespeare"
    step, _ = run(
        "train-shakespeare",
        [*PEBENCH, "train", "--config", "configs/tasks/tinyshakespeare.yaml", "--max-steps",
         "500", "--train.accelerator", "gpu", "--output-dir", str(lm_dir), "--overwrite"],
        40, work,
    )  # fmt: skip
    m = _metrics(lm_dir)
    if m:
        step.summary = f"{m.get('device')}; loss {m['summary'].get('loss', float('nan')):.3f}"
        step.ok = step.ok and str(m.get("device", "")).startswith("cuda")
    steps.append(step)

    sweep_dir = work / "demo-sweep"
    step, _ = run(
        "sweep-4-workers-1-gpu",
        [*PEBENCH, "sweep", "configs/sweeps/demo.yaml", "--gpus", "0,0,0,0", "--output-dir",
         str(sweep_dir), "--wandb", "disabled"],
        90, work,
    )  # fmt: skip
    runs = [_metrics(p) for p in sorted(sweep_dir.glob("final/*/*/seed-*"))]
    devices = sorted({str(r.get("device")) for r in runs if r})
    step.summary = f"{sum(1 for r in runs if r)} runs on {', '.join(devices) or 'nothing'}"
    step.ok = step.ok and devices == ["cuda:0"]
    steps.append(step)

    lines = [f"# gpu-check on {gpu} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             "| step | result | wall s | summary |", "| --- | --- | ---: | --- |"]  # fmt: skip
    lines += [
        f"| {s.name} | {'ok' if s.ok else 'FAILED'} | {s.wall_s:.0f} | {s.summary} |"
        for s in steps
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (OUT / "gpu_check.md").write_text(text)
    (OUT / "gpu_check.json").write_text(
        json.dumps({"gpu": gpu, "torch": torch.__version__, "steps": [asdict(s) for s in steps]},
                   indent=2) + "\n"  # fmt: skip
    )
    for s in steps:  # the logs of failed steps come back too
        if not s.ok and (work / f"{s.name}.log").is_file():
            (OUT / f"{s.name}.log").write_text((work / f"{s.name}.log").read_text()[-200_000:])
    return 0 if all(s.ok for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
