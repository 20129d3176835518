"""How each encoding's training step scales with sequence length: ``pebench bench`` at
several lengths (one bench per length, every model in its own process), gathered into one
table of step time relative to ``none`` at the same length, and one plot.

    python scripts/length_scaling.py --lengths 256 512 1024 2048 --encodings none rope alibi \
        --device cuda -- --precision bf16 --d-model 1024 --layers 12 --heads 16

The issue's GPU lengths, tokens per step held at 16,384 (batch 8, 2, 1)::

    python scripts/length_scaling.py --lengths 2048 8192 32768 --tokens 16384 \
        --encodings rope alibi fox cope --device cuda -- --precision bf16 --d-model 1024 \
        --layers 12 --heads 16 --warmup 1 --repeats 1 --steps 1 --timeout 300

Arguments after ``--`` go to every ``pebench bench`` call. Writes ``length_scaling.md``,
``length_scaling.json`` and ``length_scaling.png`` into ``--output`` (default
``runs/length-scaling``); each length's bench JSON stays there too, so a stopped run keeps
what it measured and a re-run skips the lengths already measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BASE = "none"


def batch_for(length: int, tokens: int | None) -> list[str]:
    """``--batch-size`` that keeps ``tokens`` per step at ``length`` (at least 1), or nothing
    (the bench's own batch) without ``--tokens``."""
    return [] if tokens is None else ["--batch-size", str(max(1, tokens // length))]


def run_bench(
    length: int, encodings: list[str], device: str, extra: list[str], out: Path,
    tokens: int | None = None,
) -> Path:  # fmt: skip
    """``pebench bench`` at one length into ``out/bench-<length>.json`` (kept if present)."""
    path = out / f"bench-{length}.json"
    if not path.is_file():
        command = [sys.executable, "-m", "pebench", "bench", "--device", device,
                   "--seq-len", str(length), *batch_for(length, tokens), "--output", str(path),
                   *extra, "--encodings", *encodings]  # fmt: skip
        subprocess.run(command, check=False)
    return path


def gather(paths: dict[int, Path]) -> dict[str, dict[int, dict[str, Any]]]:
    """{model: {length: {step_ms, vs_none, error}}} from bench JSON files by length; a
    length whose file is missing is left out."""
    table: dict[str, dict[int, dict[str, Any]]] = {}
    for length, path in sorted(paths.items()):
        if not path.is_file():
            continue
        results = json.loads(path.read_text())["results"]
        base = next((r["train_step_ms"] for r in results if r["name"] == BASE), None)
        for r in results:
            step = r.get("train_step_ms")
            table.setdefault(r["name"], {})[length] = {
                "step_ms": step,
                "vs_none": step / base if step and base else None,
                "error": r.get("error"),
            }
    return table


def exponent(row: dict[int, dict[str, Any]]) -> str:
    """The exponent of a power-law fit of step time against length (``scipy.stats.linregress``
    on the logs) ± its standard error, over the lengths measured; ``–`` below two."""
    import numpy as np
    from scipy import stats

    points = [(n, c["step_ms"]) for n, c in sorted(row.items()) if c["step_ms"]]
    if len(points) < 2:
        return "–"
    fit = stats.linregress(*np.log(np.array(points, dtype=float)).T)
    return f"{fit.slope:.2f} ± {fit.stderr:.2f}"


def markdown(table: dict[str, dict[int, dict[str, Any]]]) -> str:
    """Step ms (× none) per model and length (``OOM``, ``timeout`` or ``failed`` where it did
    not run) and the power-law exponent of its growth."""
    lengths = sorted({n for row in table.values() for n in row})
    lines = ["| model | " + " | ".join(f"T={n}" for n in lengths) + " | exponent |",
             "| --- |" + " ---: |" * (len(lengths) + 1)]  # fmt: skip
    for name, row in table.items():
        cells = []
        for n in lengths:
            cell = row.get(n)
            if cell is None:
                cells.append("–")
            elif cell["step_ms"] is None:
                error = (cell["error"] or "").lower()
                what = "timeout" if "longer than" in error else "failed"
                cells.append("OOM" if "out of memory" in error else what)
            else:
                ratio = f" ({cell['vs_none']:.2f}×)" if cell["vs_none"] is not None else ""
                cells.append(f"{cell['step_ms']:,.1f}{ratio}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {exponent(row)} |")
    return "\n".join(lines) + "\n"


def plot(table: dict[str, dict[int, dict[str, Any]]], path: Path) -> Path:
    from pebench.benchmark.leaderboard.plots import plt, save_png

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, row in table.items():
        points = [(n, c["step_ms"]) for n, c in sorted(row.items()) if c["step_ms"]]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", label=name)
    ax.set(xscale="log", yscale="log", xlabel="sequence length", ylabel="training step (ms)",
           title="step time against length")  # fmt: skip
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_png(fig, path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", required=True)
    parser.add_argument("--encodings", nargs="+", required=True, help="none is added")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", type=Path, default=Path("runs/length-scaling"))
    parser.add_argument(
        "--tokens", type=int, help="tokens per step: the batch shrinks as length grows"
    )
    args = parser.parse_args(own)
    args.output.mkdir(parents=True, exist_ok=True)
    names = [BASE, *(e for e in args.encodings if e != BASE)]
    paths = {
        n: run_bench(n, names, args.device, extra, args.output, args.tokens)
        for n in args.lengths
    }
    table = gather(paths)
    text = markdown(table)
    (args.output / "length_scaling.md").write_text(text)
    (args.output / "length_scaling.json").write_text(json.dumps(table, indent=2) + "\n")
    plot(table, args.output / "length_scaling.png")
    print(text)
    missing = [n for n, p in paths.items() if not p.is_file()]
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
