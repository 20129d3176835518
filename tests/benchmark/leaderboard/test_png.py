"""Plots are written as 256-colour PNGs: a fraction of matplotlib's RGBA file, with the
picture kept (committed results carry dozens of them)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from pebench.benchmark.leaderboard.plots import plt, save_png


def _figure() -> plt.Figure:
    fig, ax = plt.subplots()
    xs = np.arange(100)
    for k in range(10):
        ax.plot(xs, np.sin(xs / (5 + k)) + k / 10, marker=".", label=f"line {k}")
    ax.axvspan(0, 40, color="0.92")
    ax.legend(fontsize="small")
    return fig


def test_a_plot_is_a_palette_png_close_to_matplotlibs(tmp_path: Path) -> None:
    fig = _figure()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    full = np.asarray(Image.open(buffer).convert("RGB"), dtype=int)
    path = save_png(fig, tmp_path / "plot.png")
    assert not plt.fignum_exists(fig.number)  # closed
    image = Image.open(path)
    assert image.mode == "P" and image.size == (640, 480)
    assert path.stat().st_size < buffer.tell() / 2
    error = np.abs(np.asarray(image.convert("RGB"), dtype=int) - full)
    assert error.mean() < 0.5 and np.percentile(error.max(axis=-1), 99) < 16


def test_the_same_figure_gives_the_same_bytes(tmp_path: Path) -> None:
    """Leaderboards rebuild byte for byte, plots included."""
    first = save_png(_figure(), tmp_path / "a.png").read_bytes()
    assert save_png(_figure(), tmp_path / "b.png").read_bytes() == first
