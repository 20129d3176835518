"""Summaries over groups of a leaderboard's tasks, written as ``leaderboard_groups.md``:

* per Chomsky-hierarchy level (regular, deterministic context-free, context-sensitive; the
  level each task's runs record), every encoding's mean ranked score over the level's tasks;
* Ruoss et al. 2023's comparison: for every encoding ``X`` with a randomized-positions row
  ``X_rand``, the difference ``X_rand − X`` of the ranked score, per task and averaged over
  the tasks (those with a level when there are any: the fifteen tasks they averaged over),
  with its 95% Student-t interval over tasks (``scipy.stats``), and pooled over encodings;
* whether any encoding fits each task's training lengths: the best in-distribution score
  (the validation metric runs select on) per task, and the tasks where none reaches
  :data:`FIT`, named rather than hidden.
"""

from __future__ import annotations

import statistics

from pebench.benchmark.leaderboard.significance import t_interval
from pebench.benchmark.leaderboard.table import Column, Entry

#: the suffix of a randomized-positions row (``rope_rand``)
RANDOMIZED = "_rand"
#: level order and names, as the tasks record them
LEVELS = {"regular": "regular", "dcf": "context-free (DCF)", "cs": "context-sensitive"}
#: the in-distribution score from which a model counts as fitting its training lengths
FIT = 0.9


def _score(entry: Entry, column: Column) -> float | None:
    cell = entry.cells.get(column.header)
    return None if cell is None else cell.mean


def _levels(entries: list[Entry]) -> dict[str, str]:
    """{task: level} for the tasks whose runs record one."""
    return {
        task: str(runs[0].details["level"])
        for entry in entries
        for task, runs in entry.runs.items()
        if runs and "level" in runs[0].details
    }


def _interval_text(values: list[float]) -> str:
    low, high = t_interval(values)
    return f"{statistics.fmean(values):+.3f} [{low:+.3f}, {high:+.3f}]"


def level_table(primary: list[Column], entries: list[Entry], levels: dict[str, str]) -> list[str]:
    """Markdown rows: each encoding's mean score per level (over the level's tasks it has)."""
    present = [lv for lv in LEVELS if lv in levels.values()]
    header = ["encoding", *(f"{LEVELS[lv]} ({sum(v == lv for v in levels.values())})"
                            for lv in present), "all levels"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in entries:
        cells, every = [], []
        for level in present:
            scores = [_score(entry, c) for c in primary if levels.get(c.task) == level]
            scores = [s for s in scores if s is not None]
            every += scores
            cells.append(f"{statistics.fmean(scores):.3f}" if scores else "–")
        overall = f"{statistics.fmean(every):.3f}" if every else "–"
        lines.append("| " + " | ".join([entry.label, *cells, overall]) + " |")
    return lines


def randomized_table(
    primary: list[Column], entries: list[Entry], tasks: set[str]
) -> tuple[list[str], set[str]]:
    """Markdown rows: per encoding with a ``_rand`` row, the mean over ``tasks`` of the
    difference randomized − plain, its interval, and on how many tasks each side is ahead;
    and the labels of the columns compared."""
    by_name = {e.encoding: e for e in entries}
    pairs = [(by_name[n.removesuffix(RANDOMIZED)], by_name[n]) for n in by_name
             if n.endswith(RANDOMIZED) and n.removesuffix(RANDOMIZED) in by_name]  # fmt: skip
    if not pairs:
        return [], set()
    lines = ["| encoding | tasks | randomized − plain, mean [95% CI] | ahead / behind |",
             "|---|---|---|---|"]  # fmt: skip
    pooled: list[float] = []
    labels: set[str] = set()
    for plain, rand in pairs:
        diffs = []
        for column in primary:
            if column.task not in tasks:
                continue
            a, b = _score(plain, column), _score(rand, column)
            if a is not None and b is not None:
                sign = 1 if column.direction == "maximize" else -1
                diffs.append(sign * (b - a))
                labels.add(column.label)
        if not diffs:
            continue
        pooled += diffs
        ahead, behind = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
        lines.append(
            f"| {plain.encoding} | {len(diffs)} | {_interval_text(diffs)} | {ahead} / {behind} |"
        )
    if pooled:
        lines.append(f"| all pairs | {len(pooled)} | {_interval_text(pooled)} | "
                     f"{sum(d > 0 for d in pooled)} / {sum(d < 0 for d in pooled)} |")  # fmt: skip
    return (lines if pooled else []), labels


def fit_table(columns: list[Column], entries: list[Entry]) -> tuple[list[str], list[str]]:
    """Markdown rows: per length-generalization task (its runs select on a maximized
    in-distribution score, ``id_*``), the best encoding's mean of that score over its final
    seeds and whether it reaches :data:`FIT`; and the tasks none fits."""
    lines = [f"| task | best in-distribution score | encoding | fits (≥ {FIT}) |",
             "|---|---|---|---|"]  # fmt: skip
    unfit: list[str] = []
    for column in columns:
        if not column.primary or column.direction != "maximize":
            continue
        scored, monitor = [], ""
        for entry in entries:
            runs = entry.runs.get(column.task) or []
            monitor = runs[0].monitor or "" if runs else monitor
            values = [r.summary[monitor] for r in runs if monitor in r.summary]
            if monitor.startswith("id_") and values:
                scored.append((statistics.fmean(values), entry.label))
        if not scored:
            continue
        best, label = max(scored)
        fits = best >= FIT
        unfit += [] if fits else [column.task]
        row = [column.task, f"{best:.3f} ({monitor})", label, "yes" if fits else "no"]
        lines.append("| " + " | ".join(row) + " |")
    return (lines if len(lines) > 2 else []), unfit


def groups_markdown(title: str, columns: list[Column], entries: list[Entry]) -> str | None:
    """The group summaries of a leaderboard, or None when it has neither levels nor
    randomized rows."""
    primary = [c for c in columns if c.primary]
    levels = _levels(entries)
    tasks = set(levels) or {c.task for c in primary}
    by_level = level_table(primary, entries, levels) if levels else []
    randomized, compared = randomized_table(primary, entries, tasks)
    if not by_level and not randomized:
        return None
    fit, unfit = fit_table(columns, entries)
    out = [f"# {title}: task groups", ""]
    metric = ", ".join(sorted({c.label for c in primary if c.task in tasks}))
    if by_level:
        out += [
            "## Per Chomsky-hierarchy level",
            "",
            f"Each encoding's mean over a level's tasks of its ranked score ({metric}; the mean "
            "over final seeds), in the leaderboard's order; the number of tasks in brackets.",
            "",
            *by_level,
            "",
        ]
    if randomized:
        scope = (
            f"the {len(tasks)} tasks with a Chomsky level" if levels else "the tasks both rows ran"
        )
        out += [
            "## Randomized positions versus plain (Ruoss et al. 2023)",
            "",
            f"Per encoding, the difference of the ranked score ({', '.join(sorted(compared))}) "
            "between its "
            f"randomized-positions row and its plain row, averaged over {scope}, with the 95% "
            "Student-t interval over tasks; 'all pairs' pools every encoding's differences. "
            "Ruoss et al. report +12.0% on average over their 15 tasks.",
            "",
            *randomized,
            "",
        ]
    if fit:
        verdict = f"Every task is fit (≥ {FIT})."
        if unfit:
            verdict = (
                f"No encoding reaches {FIT} on {len(unfit)} of {len(fit) - 2} tasks: "
                f"{', '.join(unfit)}; their out-of-distribution scores compare models that "
                "have not learned the task."
            )
        out += [
            "## Does any encoding fit the training lengths?",
            "",
            "Per task, the best encoding's mean over final seeds of the in-distribution "
            f"validation score its runs select on. {verdict}",
            "",
            *fit,
            "",
        ]
    return "\n".join(out)
