"""The leaderboard rendered: ``leaderboard.{md,csv,html,json}``, ``leaderboard_compact.md``
(the README's headline) and the terminal tables."""

from __future__ import annotations

import csv
import json
import os
import statistics
from pathlib import Path
from typing import Any

from rich.table import Table

from pebench.benchmark.leaderboard.page import html_page
from pebench.benchmark.leaderboard.table import (
    BASELINE,
    HEADERS_AFTER,
    PARAM_TOLERANCE,
    Column,
    Entry,
    compact_rows,
)

METHOD = (
    "Cells: mean over the final seeds of each encoding's best configuration (selected on "
    "validation only) ± the half-width of its 95% Student-t interval over seeds. * marks the "
    "best cell of a task's ranked column and every cell not significantly different from it "
    "(two-sided paired t-tests over common seeds, Holm-corrected over the task's encodings, "
    "alpha 0.05). Mean rank (1 = best) over tasks' ranked columns, with a 95% bootstrap "
    "interval from resampling each cell's seeds. "
)


def _md_cell(text: str) -> str:
    """A markdown cell, bold when tied with the best (its text ends with ``*``): the value in
    bold and the mark escaped after it, which CommonMark renders as written."""
    if not text.endswith("*"):
        return text
    return f"**{text[:-1].rstrip()}**\\*"


def compact_markdown(columns: list[Column], entries: list[Entry]) -> str:
    """:func:`compact_rows` as a markdown table (tied cells in bold), the README's headline."""
    primary, body = compact_rows(columns, entries)
    lines = ["| " + " | ".join(["encoding", *(c.header for c in primary), "mean rank"]) + " |"]
    lines.append("|---|" + "---:|" * (len(primary) + 1))
    for label, cells, rank in body:
        lines.append("| " + " | ".join([label, *map(_md_cell, cells), rank]) + " |")
    return "\n".join(lines) + "\n"


def throughput_note(entries: list[Entry], bench_device: str | None = None) -> str:
    """Where the tokens/s column comes from: a ``pebench bench`` file, or the final runs."""
    if bench_device:
        return f"Tokens/s: one `pebench bench` measurement per encoding on {bench_device}."
    devices = sorted(set().union(*(e.throughput_devices for e in entries)))
    where = ", ".join(devices) or "devices not recorded"
    return (
        f"Tokens/s: training throughput inside the final runs ({where}; other workers may have "
        f"shared the device), not a controlled measurement (`pebench leaderboard --bench`)."
    )


def write_files(
    root: Path,
    title: str,
    table: tuple[list[str], list[list[str]]],
    entries: list[Entry],
    columns: list[Column] | None = None,
    extra_notes: list[str] | None = None,
    budget_of: Path | None = None,
    bench_device: str | None = None,
) -> dict[str, Path]:
    """leaderboard.{md,csv,html,json} and leaderboard_compact.md under ``root`` from the text
    ``table`` (header, body) of :func:`~.table.rows` and the entries behind it; returns their
    paths."""
    header, body = table
    notes = extra_notes or []
    paths = {ext: root / f"leaderboard.{ext}" for ext in ("md", "csv", "html", "json")}
    paths["compact"] = root / "leaderboard_compact.md"
    paths["compact"].write_text(compact_markdown(columns or [], entries))
    note = (
        METHOD
        + (f"Parameter differences over {PARAM_TOLERANCE:.0%} from `{BASELINE}` are flagged. ")
        + throughput_note(entries, bench_device)
    )
    md = [f"# {title}", "", note, "", "| " + " | ".join(header) + " |"]
    md.append("|" + "|".join("---" for _ in header) + "|")
    md += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in body]  # tied cells bold
    md += ["", *notes] if notes else []
    paths["md"].write_text("\n".join(md) + "\n")
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body)
    after = [row[len(row) - len(HEADERS_AFTER) :] for row in body]
    page = html_page(root, title, note, columns or [], entries, after, notes)
    paths["html"].write_text(page)
    described = [c.describe() for c in columns or []]
    document = {
        "title": title, "columns": described, "rows": [_json_row(e) for e in entries],
        "notes": notes,
    }  # fmt: skip
    if budget_of is not None:
        document["budget_of"] = os.path.relpath(budget_of, root)
    paths["json"].write_text(json.dumps(document, indent=2) + "\n")
    return paths


def _json_row(e: Entry) -> dict[str, Any]:
    """One encoding's row of leaderboard.json: every cell's values, interval and mark."""
    return {
        "encoding": e.encoding,
        **({"new": True} if e.marked else {}),
        "metrics": {
            h: {
                "mean": c.mean,
                "std": c.std,
                "ci95": list(c.interval) if c.interval else None,
                "tied_with_best": c.tied_with_best,
                "values": c.values,
                "seeds": c.seeds,
            }
            for h, c in e.cells.items()
        },
        "mean_rank": e.mean_rank,
        "mean_rank_ci95": list(e.rank_interval) if e.rank_interval else None,
        "parameters": e.parameters,
        "param_flag": e.param_flag,
        "tokens_per_s": statistics.fmean(e.tokens_per_s) if e.tokens_per_s else None,
        "search_trials": e.search,
    }


def terminal_tables(
    title: str, columns: list[Column], entries: list[Entry], width: int = 80
) -> list[Table]:
    """The leaderboard for a terminal of ``width`` columns: encodings as rows, each task's
    ranked metric as one column (compact mean±half-width), the mean rank; tasks split over
    several tables when they do not fit, long names wrapped rather than cut."""
    name_width = min(18, max([len("encoding"), *(len(e.label) for e in entries)]))

    def layout(every: bool) -> tuple[list[Column], list, dict[str, int], int, list]:
        shown, body = compact_rows(columns, entries, terse=True, every=every)
        # a column is as wide as its longest value or header line (headers are stacked)
        widths = {
            c.header: min(16, max([len(w) for w in c.stacked_header.splitlines()]
                                  + [len(texts[i]) for _, texts, _ in body]))
            for i, c in enumerate(shown)
        }  # fmt: skip
        rank_width = max([len("rank"), *(len(rank) for _, _, rank in body)])
        # rich spends 3 characters per column on padding and its left border, 1 on the right
        room = width - 1 - (name_width + 3) - (rank_width + 3)
        groups: list[list[Column]] = [[]]
        for column in shown:  # as many tasks per table as fit, in order
            used = sum(widths[c.header] + 3 for c in groups[-1])
            if groups[-1] and used + widths[column.header] + 3 > room:
                groups.append([])
            groups[-1].append(column)
        return shown, body, widths, rank_width, groups

    # every column (ID beside OOD) when it fits in as many tables as the ranked ones alone
    ranked, every = layout(every=False), layout(every=True)
    primary, body, widths, rank_width, groups = every if len(every[4]) <= len(ranked[4]) else ranked
    tables = []
    for k, group in enumerate(groups):
        part = f" ({k + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(
            title=title + part,
            caption="mean±95% half-width over seeds; * = not worse than the best (Holm)",
        )
        table.add_column("encoding", style="bold", overflow="fold", max_width=name_width)
        for column in group:
            table.add_column(
                column.stacked_header,
                justify="right",
                overflow="fold",
                max_width=widths[column.header],
            )
        table.add_column("mean rank", justify="right", overflow="fold", max_width=rank_width)
        first = primary.index(group[0]) if group else 0
        for label, texts, rank in body:
            cells = texts[first : first + len(group)]
            cells = [f"[bold]{t}[/bold]" if t.endswith("*") else t for t in cells]
            table.add_row(label, *cells, rank)
        tables.append(table)
    return tables
