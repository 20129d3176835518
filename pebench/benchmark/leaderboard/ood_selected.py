"""The OOD-selected view of a sweep's length tasks: a labelled oracle, never the leaderboard.

A length task's protocol selects each encoding's search trial on in-distribution validation
(``id_exact_match``) and reports the out-of-distribution lengths, which selection never
saw. Choosing the trial on the OOD lengths instead (as when the best of several runs is
reported on the test lengths) flatters an encoding by the luck of one run. This view puts
the two choices side by side, both scored on the OOD validation lengths of the same search
runs, so the size of that flattery is visible; it is written as
``leaderboard_ood_selected.md`` and is not ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from pebench.benchmark.run.record import RunRecord
from pebench.benchmark.sweep.studies import StudyPlan, TrialAttr

ID_PREFIX, OOD_PREFIX = "id_", "ood_"


@dataclass(frozen=True)
class Selection:
    """One (task, encoding) pair's OOD validation score under the two choices of trial."""

    protocol: float | None  # the trial the sweep selected (best ID validation score)
    oracle: float  # the best OOD validation score over the search trials
    trials: int  # search trials with an OOD score


def selection(plan: StudyPlan, storage: Any, root: Path) -> Selection | None:
    """The two choices for ``plan``, or None when its metric is not an ID length metric or
    no search trial has finished with an OOD score."""
    if not plan.metric.startswith(ID_PREFIX):
        return None
    ood_key = OOD_PREFIX + plan.metric.removeprefix(ID_PREFIX)
    study = optuna.load_study(study_name=plan.name, storage=storage)
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    scores: dict[int, float] = {}
    for trial in trials:
        try:
            summary = RunRecord.read(root / trial.user_attrs[TrialAttr.OUTPUT_DIR]).summary
        except (OSError, ValueError, KeyError, TypeError):
            continue  # the leaderboard reports missing results; this view skips them
        if summary.get(ood_key) is not None:
            scores[trial.number] = float(summary[ood_key])
    if not scores:
        return None
    pick = max if plan.direction == "maximize" else min
    return Selection(scores.get(study.best_trial.number), pick(scores.values()), len(scores))


def ood_selected_markdown(
    title: str,
    sources: list[tuple[StudyPlan, Any, Path]],
    order: list[str],
    expected: int,
) -> str | None:
    """The view as markdown, encodings in ``order`` (the leaderboard's), two columns per
    length task (``expected``: the sweep's search trials per pair), from ``sources`` (each
    study with its storage and output root); None when the sweep has no length task with
    results yet."""
    sweep_plans = [plan for plan, _, _ in sources]
    found: dict[tuple[str, str], Selection] = {}
    for plan, storage, root in sources:
        chosen = selection(plan, storage, root)
        if chosen is not None:
            found[plan.task.name, plan.encoding_label] = chosen
    if not found:
        return None
    tasks = list(dict.fromkeys(task for task, _ in found))
    # each task's OOD twin of its selection metric (exact match, or token accuracy in encoders)
    metrics = {p.metric for p in sweep_plans if p.task.name in tasks}
    ood = " / ".join(f"`{OOD_PREFIX + m.removeprefix(ID_PREFIX)}`" for m in sorted(metrics))
    header = ["encoding"]
    for task in tasks:
        header += [f"{task} ID-selected", f"{task} OOD-selected"]
    lines = [
        f"# OOD-selected view (oracle, not the leaderboard): {title}",
        "",
        f"Each cell is the {ood} of one search run on the validation split's lengths beyond "
        f"training. Of the {expected} search trials of each pair, *ID-selected* is the one "
        "chosen on in-distribution validation (the protocol, as in the leaderboard) and "
        "*OOD-selected* the one with the best score on those same lengths (an oracle choice). "
        "Both are single runs at the search seed, where the leaderboard reports the final "
        "seeds on the test split. The gap shows how much choosing on the reported lengths "
        "would flatter an encoding; cite the leaderboard, not this view.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    any_short = False
    labels = {enc for _, enc in found}
    for label in [e for e in order if e in labels]:
        cells = [label]
        for task in tasks:
            chosen = found.get((task, label))
            if chosen is None:
                cells += ["–", "–"]
                continue
            protocol = "–" if chosen.protocol is None else f"{chosen.protocol:.2f}"
            short = chosen.trials < expected
            any_short |= short
            cells += [protocol, f"{chosen.oracle:.2f}" + (f" ({chosen.trials})" if short else "")]
        lines.append("| " + " | ".join(cells) + " |")
    if any_short:
        lines += ["", f"(n): the oracle chose among n < {expected} finished search trials."]
    return "\n".join(lines) + "\n"
