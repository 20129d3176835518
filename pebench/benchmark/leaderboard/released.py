"""Compare a sweep's results with a published study's released figures
(``pebench compare-reference``).

A reference spec (``configs/references/<study>.yaml``) says where the released figures are
(a folder under ``$PEBENCH_REFERENCE_DIR``, default ``../shared/reference``) and how
pebench's task and encoding labels map onto the study's. The released folder holds
``results.csv`` (one row per model × encoding × dataset × split: ``id_seq_acc_valid``,
``ood_seq_acc_test`` and its std over seeds) and ``per_length.csv`` (``set`` ``valid`` or
``test``, ``length``, ``seq_acc``), the layout of ``../shared/reference/kazemnejad2023``.

For every mapped (task, encoding) the comparison writes the released ID and OOD (mean ±
std over their seeds), pebench's (mean ± std over its final seeds), the difference, and
whether it lies within the band max(``std_multiple`` × released std, ``min_band``); the
released file has no std for ID, so ID is held to ``min_band``. One plot per task overlays
pebench's per-length exact match on the released curve.
"""

from __future__ import annotations

import csv
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pebench.benchmark.run.record import METRICS_FILE, RunRecord
from pebench.benchmark.sweep.config import build_config
from pebench.errors import PebenchError

REFERENCE_DIR_ENV = "PEBENCH_REFERENCE_DIR"
COLUMNS = [
    "task", "encoding", "released_id", "pebench_id", "id_diff", "id_band", "id_within",
    "released_ood", "released_ood_std", "pebench_ood", "pebench_ood_std", "ood_diff",
    "ood_band", "ood_within", "seeds",
]  # fmt: skip


def reference_dir() -> Path:
    """``$PEBENCH_REFERENCE_DIR``, else ``../shared/reference`` beside the project."""
    return Path(os.environ.get(REFERENCE_DIR_ENV) or Path.cwd().parent / "shared" / "reference")


@dataclass
class ReleasedTask:
    """Where one pebench task's figures sit in the released files."""

    dataset: str
    split: str


@dataclass
class ReferenceSpec:
    """How a sweep's results map onto a study's released figures."""

    #: the released folder, relative to the reference directory
    study: str
    #: pebench sweep scale → the released model name
    models: dict[str, str]
    #: pebench task label → its released dataset and split
    tasks: dict[str, ReleasedTask]
    #: pebench encoding label → the released encoding name
    encodings: dict[str, str]
    #: a difference within max(std_multiple × released std, min_band) agrees
    std_multiple: float = 2.0
    min_band: float = 0.05
    #: the study's own words for the comparison's title
    title: str = ""


def load_reference_spec(path: str | Path) -> ReferenceSpec:
    """The reference spec in the YAML file ``path``, validated."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PebenchError(f"cannot read reference spec {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PebenchError(f"{path} is not valid YAML: {exc}") from None
    return build_config(ReferenceSpec, doc, str(path))


def _float(value: str) -> float | None:
    return float(value) if value not in ("", None) else None


def read_released(folder: Path, model: str) -> tuple[dict, dict]:
    """Released rows of ``model``: {(dataset, split, encoding): row} and
    {(dataset, split, encoding): {length: seq_acc}} (valid and test lengths together)."""
    results, lengths = folder / "results.csv", folder / "per_length.csv"
    for needed in (results, lengths):
        if not needed.is_file():
            raise PebenchError(
                f"released figures not found: {needed}; set {REFERENCE_DIR_ENV} to the folder "
                f"holding the study's directory"
            )
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    with results.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["model"] == model:
                rows[(row["dataset"], row["split"], row["encoding"])] = row
    if not rows:
        raise PebenchError(f"{results} has no rows for model {model!r}")
    curves: dict[tuple[str, str, str], dict[int, float]] = {}
    with lengths.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["model"] == model:
                key = (row["dataset"], row["split"], row["encoding"])
                curves.setdefault(key, {})[int(row["length"])] = float(row["seq_acc"])
    return rows, curves


def read_pebench(results_dir: Path, task: str, encoding: str) -> list[RunRecord]:
    """The final-seed records of one (task, encoding) of a sweep directory."""
    folder = results_dir / "final" / task / encoding
    runs = []
    for path in sorted(folder.glob(f"seed-*/{METRICS_FILE}")):
        try:
            runs.append(RunRecord.read(path.parent))
        except (OSError, ValueError, TypeError):
            continue  # a run being written, or damaged: `pebench leaderboard` reports it
    return runs


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _curve(run: RunRecord) -> dict[int, float]:
    from pebench.benchmark.leaderboard.plots import length_curve

    return {int(k): v["exact_match"] for k, v in length_curve(run).items()}


def compare(spec: ReferenceSpec, results_dir: Path, scale: str) -> list[dict[str, Any]]:
    """One row per mapped (task, encoding): released and pebench figures and the verdicts."""
    if scale not in spec.models:
        raise PebenchError(
            f"the reference spec maps no model for scale {scale!r}; choose one of "
            f"{', '.join(spec.models)}"
        )
    rows, _ = read_released(reference_dir() / spec.study, spec.models[scale])
    out = []
    for task, where in spec.tasks.items():
        for encoding, released_name in spec.encodings.items():
            released = rows.get((where.dataset, where.split, released_name))
            runs = read_pebench(results_dir, task, encoding)
            ids = [r.summary["id_exact_match"] for r in runs]
            oods = [r.test["summary"]["ood_exact_match"] for r in runs if r.test is not None]
            row: dict[str, Any] = {"task": task, "encoding": encoding, "seeds": len(runs)}
            row["pebench_id"], _ = _stats(ids)
            row["pebench_ood"], row["pebench_ood_std"] = _stats(oods)
            row["released_id"] = _float(released["id_seq_acc_valid"]) if released else None
            row["released_ood"] = _float(released["ood_seq_acc_test"]) if released else None
            ood_std = _float(released["ood_seq_acc_test_std"]) if released else None
            row["released_ood_std"] = ood_std
            for part, std in (("id", None), ("ood", ood_std)):
                band = max(spec.std_multiple * (std or 0.0), spec.min_band)
                mine, theirs = row[f"pebench_{part}"], row[f"released_{part}"]
                diff = mine - theirs if mine is not None and theirs is not None else None
                row[f"{part}_diff"], row[f"{part}_band"] = diff, band
                row[f"{part}_within"] = None if diff is None else abs(diff) <= band
            out.append(row)
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return f"{value:.3f}"


def markdown(spec: ReferenceSpec, rows: list[dict[str, Any]], scale: str) -> str:
    """The comparison as a Markdown table with its method stated under it."""
    lines = [
        f"# {spec.title or spec.study}: pebench against the released figures "
        f"({spec.models[scale]}, scale {scale})",
        "",
        "| task | encoding | released ID | pebench ID | Δ ID | within | released OOD | "
        "pebench OOD | Δ OOD | band | within | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        released_ood = _fmt(r["released_ood"])
        if r["released_ood_std"] is not None:
            released_ood += f" ± {r['released_ood_std']:.3f}"
        mine_ood = _fmt(r["pebench_ood"])
        if r["pebench_ood_std"] is not None:
            mine_ood += f" ± {r['pebench_ood_std']:.3f}"
        diff = {
            p: "–" if r[f"{p}_diff"] is None else f"{r[f'{p}_diff']:+.3f}" for p in ("id", "ood")
        }
        lines.append(
            f"| {r['task']} | {r['encoding']} | {_fmt(r['released_id'])} | "
            f"{_fmt(r['pebench_id'])} | {diff['id']} | {_fmt(r['id_within'])} | {released_ood} | "
            f"{mine_ood} | {diff['ood']} | {r['ood_band']:.3f} | {_fmt(r['ood_within'])} | "
            f"{r['seeds']} |"
        )
    judged = [r for r in rows if r["id_within"] is not None and r["ood_within"] is not None]
    both = sum(r["id_within"] and r["ood_within"] for r in judged)
    lines += [
        "",
        f"{both} of {len(judged)} compared cells agree on both ID and OOD. Exact match is "
        f"whole-sequence; ID is the in-distribution validation set, OOD the test lengths. "
        f"Released: mean ± std over the authors' seeds; pebench: mean ± std (n − 1) over its "
        f"final seeds. A difference agrees when |Δ| ≤ max({spec.std_multiple:g} × released "
        f"std, {spec.min_band:g}); the released file gives no std for ID, so ID uses "
        f"{spec.min_band:g}. – = no figure on that side yet.",
        "",
    ]
    return "\n".join(lines)


def plot_overlays(
    spec: ReferenceSpec, results_dir: Path, scale: str, out_dir: Path
) -> list[Path]:
    """One PNG per task: pebench's mean per-length exact match (solid) over the released
    curve (dashed), one colour per encoding."""
    from pebench.benchmark.leaderboard.plots import plt, save_png

    _, curves = read_released(reference_dir() / spec.study, spec.models[scale])
    paths = []
    for task, where in spec.tasks.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        drawn, train_max = False, None
        for i, (encoding, released_name) in enumerate(spec.encodings.items()):
            colour = f"C{i}"
            theirs = curves.get((where.dataset, where.split, released_name))
            if theirs:
                xs = sorted(theirs)
                ax.plot(xs, [theirs[x] for x in xs], "--", color=colour, alpha=0.7,
                        label=f"{encoding} (released)")
                drawn = True
            loaded = read_pebench(results_dir, task, encoding)
            runs = [_curve(r) for r in loaded]
            contexts = (r.details.get("train_max_length") for r in loaded)
            train_max = train_max or next((c for c in contexts if c), None)
            if runs:
                xs = sorted(set().union(*runs))
                means = [statistics.fmean([r[x] for r in runs if x in r]) for x in xs]
                ax.plot(xs, means, "-", marker=".", color=colour,
                        label=f"{encoding} (pebench, {len(runs)} seeds)")
                drawn = True
        if not drawn:
            plt.close(fig)
            continue
        if train_max is not None:
            ax.axvspan(0.5, train_max + 0.5, color="0.92", label="training lengths", zorder=0)
        ax.set(xlabel="input length", ylabel="exact match", ylim=(-0.02, 1.02),
               title=f"{task}: pebench vs released ({spec.models[scale]})")
        ax.legend(fontsize="x-small")
        fig.tight_layout()
        paths.append(save_png(fig, out_dir / f"reference_{task}.png"))
    return paths


def write_comparison(
    spec_path: str | Path, results_dir: str | Path, scale: str | None = None
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Compare, then write ``reference_comparison.{md,csv}`` and the overlay plots into the
    results directory; returns the rows and the written paths."""
    spec = load_reference_spec(spec_path)
    results_dir = Path(results_dir)
    if not (results_dir / "final").is_dir():
        raise PebenchError(
            f"{results_dir} holds no final runs (final/ not found); give a sweep's output "
            f"directory"
        )
    scale = scale or next(iter(spec.models))
    rows = compare(spec, results_dir, scale)
    md = results_dir / "reference_comparison.md"
    md.write_text(markdown(spec, rows, scale), encoding="utf-8")
    table = results_dir / "reference_comparison.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return rows, [md, table, *plot_overlays(spec, results_dir, scale, results_dir)]
