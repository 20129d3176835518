"""The columns a task is ranked and reported on in a leaderboard, as plain data.

A task declares its columns (:meth:`pebench.tasks.base.Task.columns`) from these pieces, and
the run's record stores the declaration, so the leaderboard reads it instead of guessing
from metric names. Nothing here imports torch: records written before tasks declared their
columns are read with :func:`inferred_columns`, built of the same pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricColumn:
    """One column: its ``label`` (``ID``, ``loss 4×``), the results it is read from
    (``summary``: validation; ``test``: the test split), the metric's ``key`` there, and
    whether the task is ranked on it."""

    label: str
    where: str
    key: str
    ranked: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "where": self.where, "key": self.key, "ranked": self.ranked}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MetricColumn:
        return cls(str(doc["label"]), str(doc["where"]), str(doc["key"]), bool(doc["ranked"]))


def split_metric(metric: str) -> tuple[str, str] | None:
    """``(prefix, name)`` of a metric split by length (``id_exact_match`` → ``("id_",
    "exact_match")``); None for one that is not."""
    for prefix in ("ood_", "id_"):
        if metric.startswith(prefix):
            return prefix, metric[len(prefix) :]
    return None


def validation_columns(metric: str) -> list[MetricColumn]:
    """The validation ``metric`` alone."""
    return [MetricColumn(f"val {metric}", "summary", metric, ranked=True)]


def test_columns(metric: str) -> list[MetricColumn]:
    """The test split's ``metric`` alone (selected on validation, reported on test)."""
    return [MetricColumn(f"test {metric}", "test", metric, ranked=True)]


def length_columns(metric: str) -> list[MetricColumn]:
    """ID beside OOD on validation, ranked on OOD (what a length task measures), for an
    ``id_``/``ood_`` metric; empty for another."""
    split = split_metric(metric)
    if split is None:
        return []
    return [
        MetricColumn("ID", "summary", "id_" + split[1]),
        MetricColumn("OOD", "summary", "ood_" + split[1], ranked=True),
    ]


def held_out_length_columns(metric: str, test_summary: dict[str, Any]) -> list[MetricColumn]:
    """ID on validation beside OOD on the test lengths (held-out splits), for an ``id_``
    metric whose OOD twin the test split reports; empty otherwise."""
    split = split_metric(metric)
    ood = "ood_" + metric.removeprefix("id_")
    if split is None or split[0] != "id_" or ood not in test_summary:
        return []
    return [MetricColumn("ID", "summary", metric), MetricColumn("OOD", "test", ood, ranked=True)]


#: multiples of the training context a language model is reported at (with the longest)
CONTEXT_MULTIPLES = (1, 4, 16)


def context_columns(metric: str, summary: dict[str, Any], context: int) -> list[MetricColumn]:
    """A language model's ``loss`` at its training context, 4× and 16× it and the longest
    multiple evaluated, ranked on the longest (extrapolation, as length tasks rank on OOD);
    empty for another metric or when the training context was not evaluated."""
    if metric != "loss" or not context or f"loss_{context}" not in summary:
        return []
    evaluated = {
        int(key[5:]) // context
        for key in summary
        if key.startswith("loss_") and key[5:].isdigit() and int(key[5:]) % context == 0
    }
    multiples = sorted({m for m in CONTEXT_MULTIPLES if m in evaluated} | {max(evaluated)})
    return [
        MetricColumn(f"loss {m}×", "summary", f"loss_{m * context}", ranked=m == multiples[-1])
        for m in multiples
    ]


def inferred_columns(metric: str, results: dict[str, Any]) -> list[MetricColumn]:
    """The columns of a record written before tasks declared them, from the shape of its
    results: held-out length splits or the test split; a language model's contexts; ID/OOD
    for length metrics; else the validation metric."""
    if "test" in results:
        test = results["test"].get("summary", {})
        return held_out_length_columns(metric, test) or test_columns(metric)
    context = results.get("train_max_length")
    return (
        context_columns(metric, results.get("summary", {}), context or 0)
        or length_columns(metric)
        or validation_columns(metric)
    )
