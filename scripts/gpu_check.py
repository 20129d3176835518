"""``make gpu-check``: everything pebench claims about GPUs, checked in one go on one GPU.

Steps (each in its own process, each with a time limit, a failure is a row, not an abort):

1. the ``cuda`` tests (every encoding against a float64 CPU reference, FlexAttention against
   SDPA forward and backward, no recompile per length, bf16, cached decoding, the device
   recorded by a Lightning run);
2. ``pebench train`` of copy with ALiBi for 1,500 steps, evaluation included;
3. ``pebench train`` of the tinyshakespeare preset (500 steps);
4. ``pebench sweep configs/sweeps/demo.yaml --gpus 0,0,0,0``: four workers sharing the GPU;
5. ``pebench bench --device cuda --precision bf16`` at d1024/L12/H16/T2048/B8, every encoding
   in its own process, the bias encodings first (an out-of-memory is a row that says so and
   passes; any other error fails the step, as does an encoding the time limit left out);
6. if the budget leaves time, the opt-in paths to decide on (FlexAttention for Shaw and
   Transformer-XL, shared offsets for the score_mods) against step 5's rows: informational.

Steps 1-4 use small models and run side by side (the machine has many cores and the GPU
room); the bench runs alone after them, so its timings are not shared. It prints one
summary table and writes ``gpu_check.json``, ``gpu_check.md`` and the bench JSON into
``$OUT`` when set (the device machine's return folder), else ``runs/gpu-check``. Exit status
1 when a step failed. The whole check is held to ``BUDGET_S`` (560 s, inside the lent machine's
10 minutes a command, with room for installing the wheels); ``pebench bench``
writes its JSON after every model, so a bench stopped at its limit keeps what it measured.
On an H200 (2026-12-04, run one after another) the cuda tests took 97 s, copy/alibi 38 s,
tinyshakespeare 20 s, the sweep 55 s, and the bench 13 encodings in 230 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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


def run(
    name: str, command: list[str], limit_s: float, work: Path, env: dict[str, str] | None = None
) -> tuple[Step, str]:
    """Run one step (``env`` added to the environment), keeping the tail of its output in
    ``work/<name>.log``."""
    started = time.perf_counter()
    log = work / f"{name}.log"
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=limit_s, check=False,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        output, ok = done.stdout + done.stderr, done.returncode == 0
        why = "" if ok else f"exit {done.returncode}: {_last_line(output)}"
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        ok, why = False, f"stopped after {limit_s:.0f} s"
    log.write_text(output)
    wall = time.perf_counter() - started
    print(f"[{name}] {'ok' if ok else 'FAILED'} in {wall:.0f} s {why}", flush=True)
    return Step(name, ok, wall, why), output

if TYPE_CHECKING:
    from pebench.benchmark.run.record import RunRecord


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _metrics(directory: Path) -> RunRecord | None:
    """The run's record in ``directory``; None when it wrote none (or an unreadable one)."""
    from pebench.benchmark.run.record import RunRecord

    try:
        return RunRecord.read(directory)
    except (OSError, ValueError, TypeError):
        return None


#: the whole check, start to summary: 8 minutes until the cuda tests grew by the fla, chunked
#: and compiled-rotary tests (Triton compiles and autotunes fla's kernels on first use)
BUDGET_S = 560
#: the encodings the bench must reach first: the score-bias family its GPU path is for
BIAS_FIRST = ["none", "alibi", "t5", "kerple_log", "kerple_power", "fire", "dynamic_bias"]


def _cuda_tests(step: Step, output: str) -> Step:
    step.ok = step.ok and " passed" in output  # all skipped (no GPU) is not a pass
    step.summary = _last_line(output) if step.ok else step.summary or _last_line(output)
    return step


def _train_copy(step: Step, directory: Path) -> Step:
    """The reference sweep's run size on a GPU, with where its time went (beside the other
    small steps, so slower than alone)."""
    m = _metrics(directory)
    if m:
        steps_s = m.train_step_time_s or 0.0
        per_step = 1000 * steps_s / max(1, m.steps or 0)
        step.summary = (
            f"{m.device} {m.gpu}; wall {m.wall_time_s or 0:.0f} s: "
            f"start-up {m.startup_s or 0:.1f} s, steps {steps_s:.1f}"
            f" s ({per_step:.1f} ms each), between {m.between_steps_time_s or 0:.1f} s, "
            f"evaluation {m.eval_time_s or 0:.1f} s; "
            f"OOD exact {m.summary.get('ood_exact_match', float('nan')):.2f}"
        )
        step.ok = step.ok and str(m.device or "").startswith("cuda")
    return step


def _train_lm(step: Step, directory: Path) -> Step:
    m = _metrics(directory)
    if m:
        step.summary = f"{m.device}; loss {m.summary.get('loss', float('nan')):.3f}"
        step.ok = step.ok and str(m.device or "").startswith("cuda")
    return step


def _sweep(step: Step, directory: Path) -> Step:
    runs = [_metrics(p) for p in sorted(directory.glob("final/*/*/seed-*"))]
    devices = sorted({str(r.device) for r in runs if r})
    step.summary = f"{sum(1 for r in runs if r)} runs on {', '.join(devices) or 'nothing'}"
    step.ok = step.ok and devices == ["cuda:0"]
    return step


def _bench(step: Step, path: Path, wanted: list[str]) -> Step:
    """Every encoding must have a row; an out-of-memory row passes (it is the finding), any
    other error fails, and so does an encoding the time limit left out."""
    results = json.loads(path.read_text())["results"] if path.is_file() else []
    names = {r["name"] for r in results}
    oom = [r["name"] for r in results if r.get("error") and "out of memory" in r["error"].lower()]
    failed = [r["name"] for r in results if r.get("error") and r["name"] not in oom]
    missing = [n for n in wanted if n not in names]
    step.ok = not failed and not missing
    step.summary = f"{len(results) - len(oom) - len(failed)} measured" + "".join(
        f"; {what}: {', '.join(which)}"
        for what, which in (("out of memory", oom), ("failed", failed), ("not reached", missing))
        if which
    )
    return step


#: the opt-in paths to decide on: FlexAttention for Shaw and Transformer-XL, and (for all
#: four) score_mods that take the offset as q_idx − kv_idx (PEBENCH_FLEX_SHARED_OFFSETS=1)
OPT_INS = ["alibi", "t5", "shaw", "transformer_xl"]
#: seconds the opt-in bench needs (four models, each compiling once); skipped with less left
OPT_INS_MIN_S = 75


def _opt_ins(step: Step, path: Path, default_path: Path) -> Step:
    """The opt-in rows against the same encodings' rows of the default bench: step ms before
    → after each. Informational: a row missing or failed is reported, not a failed check."""

    def rows(p: Path) -> dict[str, dict]:
        return {r["name"]: r for r in json.loads(p.read_text())["results"]} if p.is_file() else {}

    default, opt_in = rows(default_path), rows(path)
    parts = []
    for name in OPT_INS:
        before = default.get(name, {}).get("train_step_ms")
        row = opt_in.get(name, {})
        after = row.get("train_step_ms")
        if after is None:
            parts.append(f"{name} {(row.get('error') or 'not reached')[:60]}")
        else:
            was = f"{before:.1f}" if before is not None else "?"
            parts.append(f"{name} {was} → {after:.1f} ms ({row.get('attention_path')})")
    step.ok = True
    step.summary = "; ".join(parts)
    return step


def _fla_version() -> str:
    """fla-core's version, or why its kernels will not run (fox, path and stick_breaking then
    take their own paths): ``make gpu-wheels`` carries it to the lent machine."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fla-core")
    except PackageNotFoundError:
        return "not installed (make gpu-wheels)"


def main() -> int:
    import torch

    from pebench.encodings import available

    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    work = ROOT / "runs" / "gpu-check"
    work.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    kernels = _fla_version()
    print(f"gpu-check on {gpu}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"flash-linear-attention {kernels}", flush=True)  # fmt: skip
    copy_dir, lm_dir, sweep_dir = work / "copy-alibi", work / "shakespeare", work / "demo-sweep"
    side_by_side = {
        "cuda-tests": (
            [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-x", "-p", "no:cacheprovider",
             "tests/gpu/test_cuda.py"], 240),
        "train-copy-alibi": (
            [*PEBENCH, "train", "--task", "copy", "--encoding", "alibi", "--max-steps", "1500",
             "--train.accelerator", "gpu", "--train.progress", "false", "--output-dir",
             str(copy_dir), "--overwrite"], 120),
        "train-shakespeare": (
            [*PEBENCH, "train", "--config", "configs/tasks/tinyshakespeare.yaml", "--max-steps",
             "500", "--train.accelerator", "gpu", "--output-dir", str(lm_dir), "--overwrite"], 90),
        "sweep-4-workers-1-gpu": (
            [*PEBENCH, "sweep", "configs/sweeps/demo.yaml", "--gpus", "0,0,0,0", "--output-dir",
             str(sweep_dir), "--wandb", "disabled"], 150),
    }  # fmt: skip
    with ThreadPoolExecutor(len(side_by_side)) as pool:
        done = {
            name: pool.submit(run, name, command, limit, work)
            for name, (command, limit) in side_by_side.items()
        }
        results = {name: future.result() for name, future in done.items()}
    steps = [
        _cuda_tests(*results["cuda-tests"]),
        _train_copy(results["train-copy-alibi"][0], copy_dir),
        _train_lm(results["train-shakespeare"][0], lm_dir),
        _sweep(results["sweep-4-workers-1-gpu"][0], sweep_dir),
    ]

    order = BIAS_FIRST + sorted(n for n in available() if n not in BIAS_FIRST)
    bench_json = OUT / "bench.json"
    limit = max(60.0, BUDGET_S - (time.perf_counter() - started))
    step, _ = run(
        "bench",
        [*PEBENCH, "bench", "--device", "cuda", "--precision", "bf16", *BENCH_SIZE,
         "--warmup", "1", "--repeats", "1", "--steps", "2", "--timeout", "90",
         "--output", str(bench_json), "--encodings", *order],
        limit, work,
    )  # fmt: skip
    steps.append(_bench(step, bench_json, ["torch_baseline", *order]))

    left = BUDGET_S - (time.perf_counter() - started)
    opt_ins_json = OUT / "bench-opt-ins.json"
    if left >= OPT_INS_MIN_S:
        step, _ = run(
            "bench-opt-ins",
            [*PEBENCH, "bench", "--device", "cuda", "--precision", "bf16", *BENCH_SIZE,
             "--warmup", "1", "--repeats", "1", "--steps", "2", "--timeout", "60",
             "--attention", "flex", "--output", str(opt_ins_json), "--encodings", *OPT_INS],
            left, work, env={"PEBENCH_FLEX_SHARED_OFFSETS": "1"},
        )  # fmt: skip
        steps.append(_opt_ins(step, opt_ins_json, bench_json))
    else:
        steps.append(Step("bench-opt-ins", True, 0.0, f"not run: {left:.0f} s of budget left"))

    total = time.perf_counter() - started
    lines = [f"# gpu-check on {gpu} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): "
             f"{total:.0f} s in all; steps 1-4 side by side, then the bench alone; "
             f"flash-linear-attention {kernels}", "",
             "| step | result | wall s | summary |", "| --- | --- | ---: | --- |"]  # fmt: skip
    lines += [
        f"| {s.name} | {'ok' if s.ok else 'FAILED'} | {s.wall_s:.0f} | {s.summary} |"
        for s in steps
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (OUT / "gpu_check.md").write_text(text)
    (OUT / "gpu_check.json").write_text(
        json.dumps({"gpu": gpu, "torch": torch.__version__, "fla": kernels,
                    "steps": [asdict(s) for s in steps]}, indent=2) + "\n"  # fmt: skip
    )
    for s in steps:  # the logs of failed steps come back too
        if not s.ok and (work / f"{s.name}.log").is_file():
            (OUT / f"{s.name}.log").write_text((work / f"{s.name}.log").read_text()[-200_000:])
    return 0 if all(s.ok for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
