"""Leaderboard plots (matplotlib, Agg): quality (or loss) against length per task, passkey
heatmaps of accuracy by length and depth, and quality against training throughput."""

from __future__ import annotations

import io
import re
import statistics
import textwrap
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pebench.benchmark.run.record import RunRecord  # noqa: E402
from pebench.benchmark.run.report import LENGTH_METRICS  # noqa: E402
from pebench.benchmark.sweep.studies import StudyPlan  # noqa: E402


def _length_key(key: str) -> float:
    match = re.match(r"\d+", key)
    return float(match.group()) if match else 0.0


def save_png(fig: Any, path: Path, **options: Any) -> Path:
    """Write and close ``fig`` as a 256-colour PNG: a third of matplotlib's RGBA file for
    these line plots and heatmaps (mean error under 0.05 of 255 per channel), so committed
    results stay small. ``options`` go to ``savefig``."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, **options)
    plt.close(fig)
    image = Image.open(buffer).convert("RGB")
    palette = image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(path, format="png", optimize=True)
    return path


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def length_curve(run: RunRecord) -> dict[str, dict[str, float]]:
    """A run's per-length results: validation, plus the test split's lengths that validation
    does not cover (tasks whose test split holds the out-of-distribution lengths)."""
    curve = dict(run.per_length or {})
    for key, values in ((run.test or {}).get("per_length") or {}).items():
        curve.setdefault(key, values)
    return curve


def _highlight(entry: Any) -> dict[str, Any]:
    """Line style of the row ranked against a reference (``pebench rank``): drawn on top,
    thick and black, so it stands out among the reference's lines."""
    if not getattr(entry, "marked", False):
        return {}
    return {"color": "black", "linewidth": 2.5, "zorder": 5}


def plot_lengths(plans: list[StudyPlan], entries: list[Any], root: Path) -> list[Path]:
    """One PNG per task: mean per-length metric over final seeds, one line per encoding.

    Scores in [0, 1] (exact match, F1, accuracy) shade the training lengths; a loss (language
    modelling) is drawn against the evaluation length on a log axis with the training context
    marked, and lengths an encoding cannot represent are left out of its line."""
    paths = []
    for task in dict.fromkeys(p.task.name for p in plans):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        metric, train_max = None, None
        for entry in entries:
            runs = [length_curve(r) for r in entry.runs.get(task, [])]
            if not runs or not runs[0]:
                continue
            sample = next(iter(runs[0].values()))
            metric = next((m for m in LENGTH_METRICS if m in sample), None)
            if metric is None:
                continue
            train_max = entry.runs[task][0].details.get("train_max_length", train_max)
            keys = sorted(runs[0], key=_length_key)
            means = [_mean([r[k][metric] for r in runs if k in r]) for k in keys]
            pairs = zip(keys, means, strict=True)
            points = [(_length_key(k), m) for k, m in pairs if m is not None]
            if points:
                ax.plot(
                    *zip(*points, strict=True), marker=".", label=entry.label, **_highlight(entry)
                )
        if metric is None:
            plt.close(fig)
            continue
        if metric == "loss":
            ax.set_xscale("log", base=2)
            if train_max is not None:
                ax.axvline(train_max, color="0.6", linestyle="--", label="training context")
            ax.set(
                xlabel="evaluation length (tokens)",
                ylabel="validation loss (nats/token)",
                title=task,
            )
        else:
            if train_max is not None:
                ax.axvspan(0.5, train_max + 0.5, color="0.9", label="training lengths")
            ax.set(
                xlabel="input length", ylabel=metric.replace("_", " "), title=task, ylim=(0, 1.02)
            )
        ax.legend(fontsize="small")
        fig.tight_layout()
        paths.append(save_png(fig, root / f"plot_length_{task}.png"))
    return paths


#: (x label, y label, colour-bar label) of a run's grid, by where it comes from
GRID_LABELS = {
    "grid": ("length", "key depth", "exact key recall"),
    "per_cell": ("digits of the first operand", "digits of the second", "exact match"),
}


def run_grid(run: RunRecord) -> tuple[str, list[str], list[str], np.ndarray] | None:
    """A run's heatmap as (kind, x ticks, y ticks, values[x, y]; nan where not evaluated):
    passkey's (length × depth) ``grid``, or the arithmetic tasks' exact match ``per_cell``
    (digit counts i × j); None when the run has neither."""
    if "grid" in run.details:
        grid = run.details["grid"]
        values = np.array(grid["accuracy"], dtype=float)  # None → nan
        return "grid", [str(n) for n in grid["lengths"]], [f"{d:g}" for d in grid["depths"]], values
    if "per_cell" in run.details:
        cells = {
            tuple(map(int, k.split(","))): v["exact_match"]
            for k, v in run.details["per_cell"].items()
        }
        size = max(max(ij) for ij in cells)
        values = np.full((size, size), np.nan)
        for (i, j), value in cells.items():
            values[i - 1, j - 1] = value
        ticks = [str(n) for n in range(1, size + 1)]
        return "per_cell", ticks, ticks, values
    return None


def plot_grids(plans: list[StudyPlan], entries: list[Any], root: Path) -> list[Path]:
    """One PNG per task whose runs report a grid (passkey's length × depth, arithmetic's
    digit counts): a heatmap per encoding of the value averaged over final seeds."""
    paths = []
    for task in dict.fromkeys(p.task.name for p in plans):
        grids = []
        for entry in entries:
            found = [g for g in map(run_grid, entry.runs.get(task, [])) if g is not None]
            if found:
                with warnings.catch_warnings():  # all-nan cells (not applicable) stay nan
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean([g[3] for g in found], axis=0)
                grids.append((entry.label, found[0], mean))
        if not grids:
            continue
        cols = min(4, len(grids))
        rows = (len(grids) + cols - 1) // cols
        fig, axes = plt.subplots(
            rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False, layout="constrained"
        )
        for ax in axes.flat[len(grids) :]:
            ax.axis("off")
        for ax, (label, (kind, xs, ys, _), mean) in zip(axes.flat, grids, strict=False):
            image = ax.imshow(mean.T, vmin=0, vmax=1, cmap="viridis", origin="upper", aspect="auto")
            step = max(1, len(xs) // 10)  # at most ten labels an axis
            ax.set_xticks(range(0, len(xs), step), xs[::step])
            ax.set_yticks(range(0, len(ys), step), ys[::step])
            xlabel, ylabel, _ = GRID_LABELS[kind]
            ax.set(title=label, xlabel=xlabel, ylabel=ylabel)
        fig.colorbar(image, ax=axes, shrink=0.8, label=GRID_LABELS[grids[0][1][0]][2])
        fig.suptitle(task)
        paths.append(save_png(fig, root / f"plot_grid_{task}.png"))
    return paths


def plot_throughput(
    columns: list[Any], entries: list[Any], root: Path, source: str = ""
) -> list[Path]:
    """Mean primary metric over tasks against training tokens/s, one point per encoding;
    ``source`` (where tokens/s was measured) is printed under the axes."""
    primary = [c.header for c in columns if c.primary]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    points = 0
    for entry in entries:
        values = [entry.cells[h].mean for h in primary if h in entry.cells]
        values = [v for v in values if v is not None]
        if not values or not entry.tokens_per_s:
            continue
        x, y = statistics.fmean(entry.tokens_per_s), statistics.fmean(values)
        ax.scatter(
            [x],
            [y],
            **(
                {"marker": "*", "s": 160, "color": "black", "zorder": 5}
                if getattr(entry, "marked", False)
                else {}
            ),
        )
        ax.annotate(entry.label, (x, y), textcoords="offset points", xytext=(4, 4))
        points += 1
    if not points:
        plt.close(fig)
        return []
    ax.set(
        xlabel="training tokens/s",
        ylabel="mean primary metric over tasks",
        title="quality vs throughput",
    )
    if source:
        fig.text(0.01, 0.01, textwrap.fill(source, 110), fontsize=6, va="bottom")
        fig.subplots_adjust(bottom=0.22)
    path = root / "plot_quality_vs_throughput.png"
    return [save_png(fig, path, bbox_inches="tight")]  # labels near the edge are kept
