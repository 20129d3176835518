"""Leaderboard plots (matplotlib, Agg): quality against input length per task, with the
training range shaded, and quality against training throughput."""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pebench.benchmark.report import LENGTH_METRICS  # noqa: E402
from pebench.benchmark.studies import StudyPlan  # noqa: E402


def _length_key(key: str) -> float:
    match = re.match(r"\d+", key)
    return float(match.group()) if match else 0.0


def plot_lengths(plans: list[StudyPlan], entries: list[Any], root: Path) -> list[Path]:
    """One PNG per task: mean per-length metric over final seeds, one line per encoding."""
    paths = []
    for task in dict.fromkeys(p.task.name for p in plans):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        metric, train_max = None, None
        for entry in entries:
            runs = entry.runs.get(task, [])
            if not runs or not runs[0].get("per_length"):
                continue
            sample = next(iter(runs[0]["per_length"].values()))
            metric = next((m for m in LENGTH_METRICS if m in sample), None)
            if metric is None:
                continue
            train_max = runs[0].get("train_max_length", train_max)
            keys = sorted(runs[0]["per_length"], key=_length_key)
            means = [
                statistics.fmean(r["per_length"][k][metric] for r in runs if k in r["per_length"])
                for k in keys
            ]
            ax.plot([_length_key(k) for k in keys], means, marker=".", label=entry.encoding)
        if metric is None:
            plt.close(fig)
            continue
        if train_max is not None:
            ax.axvspan(0.5, train_max + 0.5, color="0.9", label="training lengths")
        ax.set(xlabel="input length", ylabel=metric.replace("_", " "), title=task, ylim=(0, 1.02))
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = root / f"plot_length_{task}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_throughput(columns: list[Any], entries: list[Any], root: Path) -> list[Path]:
    """Mean primary metric over tasks against training tokens/s, one point per encoding."""
    primary = [c.header for c in columns if c.primary]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    points = 0
    for entry in entries:
        values = [entry.cells[h].mean for h in primary if h in entry.cells]
        values = [v for v in values if v is not None]
        if not values or not entry.tokens_per_s:
            continue
        x, y = statistics.fmean(entry.tokens_per_s), statistics.fmean(values)
        ax.scatter([x], [y])
        ax.annotate(entry.encoding, (x, y), textcoords="offset points", xytext=(4, 4))
        points += 1
    if not points:
        plt.close(fig)
        return []
    ax.set(
        xlabel="training tokens/s",
        ylabel="mean primary metric over tasks",
        title="quality vs throughput",
    )
    fig.tight_layout()
    path = root / "plot_quality_vs_throughput.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]
