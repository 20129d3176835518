"""Uncertainty and significance for leaderboards, from well-kept libraries only: Student-t
intervals and paired t-tests from :mod:`scipy.stats`, Holm's correction from statsmodels,
bootstrap intervals and Kendall's τ from :mod:`scipy.stats`.

Why these choices: a cell holds one score per final seed, and there are few seeds (3), so
the interval for its mean is Student's t over seeds (a bootstrap over three values cannot
reach the tails). Seeds are shared across encodings (seed s of every encoding draws the same
data), so comparisons with the best encoding are paired by seed.
"""

from __future__ import annotations

import gc
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

CONFIDENCE = 0.95
ALPHA = 0.05
#: bootstrap resamples for the mean-rank intervals (seeded, so results are reproducible)
RESAMPLES = 2000


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction (statsmodels' ``multipletests``): (reject, corrected p).

    statsmodels runs a full garbage collection inside every Holm call, which costs a quarter
    of a second per call in a process holding a loaded Optuna storage; objects alive before
    the call are frozen for its duration, so that collection scans only its own."""
    gc.freeze()
    try:
        reject, corrected, _, _ = multipletests(pvalues, alpha=alpha, method="holm")
    finally:
        gc.unfreeze()
    return reject, corrected


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t confidence interval for the mean of ``values`` (one per seed); with one
    value, or none spread, the interval is the mean itself."""
    mean = float(np.mean(values))
    if len(values) < 2 or float(np.std(values)) == 0.0:
        return mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=stats.sem(values))
    return float(low), float(high)


def paired_p(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """The p-value of a two-sided paired t-test (``scipy.stats.ttest_rel``) of two
    encodings' {seed: score} over the seeds both have; fewer than two cannot be tested
    (p = 1), and identical differences (zero variance) give p = 1 if the scores are equal,
    else 0."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return 1.0
    x, y = [a[s] for s in common], [b[s] for s in common]
    with warnings.catch_warnings():  # constant differences: handled just below
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_rel(x, y).pvalue)
    if math.isnan(p):
        p = 1.0 if np.allclose(x, y) else 0.0
    return p


def versus_best(
    scores: Mapping[str, Mapping[int, float]], direction: str, alpha: float = ALPHA
) -> dict[str, float | None]:
    """Each encoding's Holm-corrected p-value against the best one (None for the best).

    ``scores`` maps encoding → {seed: score}. The best is the best mean. Each other encoding
    is compared with it by a two-sided paired t-test over their common seeds
    (``scipy.stats.ttest_rel``), and the p-values are Holm-corrected over all comparisons.
    An encoding sharing fewer than two seeds with the best cannot be tested (p = 1).
    """
    present = {name: s for name, s in scores.items() if s}
    if not present:
        return {}
    sign = 1 if direction == "maximize" else -1
    means = {name: float(np.mean(list(s.values()))) for name, s in present.items()}
    best = max(present, key=lambda name: (sign * means[name], name))
    others = [name for name in present if name != best]
    found: dict[str, float | None] = {best: None}
    if others:
        pvalues = [paired_p(present[name], present[best]) for name in others]
        corrected = holm(pvalues, alpha)[1]
        found |= {name: float(p) for name, p in zip(others, corrected, strict=True)}
    return found


def tied_with_best(
    scores: Mapping[str, Mapping[int, float]], direction: str, alpha: float = ALPHA
) -> set[str]:
    """Encodings whose scores are not significantly different from the best one's
    (:func:`versus_best`: the best, and every Holm-corrected p-value above ``alpha``)."""
    found = versus_best(scores, direction, alpha)
    return {name for name, p in found.items() if p is None or p > alpha}  # Holm: reject at <=


@dataclass(frozen=True)
class Comparison:
    """One encoding against another on one task: the paired result over common seeds."""

    other: str
    #: mean over common seeds of (this − other), in the metric's units
    difference: float
    #: seeds both encodings have
    seeds: int
    #: two-sided paired t-test p-value, and after Holm's correction over the task's rows
    p: float
    p_holm: float
    #: "better", "worse" or "tied" (not significantly different, or untestable)
    verdict: str


def paired_comparisons(
    scores: Mapping[str, Mapping[int, float]], name: str, direction: str, alpha: float = ALPHA
) -> list[Comparison]:
    """``name`` against every other encoding of one task, as :func:`tied_with_best` tests an
    encoding against the best: two-sided paired t-tests (``scipy.stats.ttest_rel``) over
    common seeds, Holm-corrected over the comparisons. Fewer than two common seeds cannot be
    tested (p = 1, tied). ``scores`` maps encoding → {seed: score}."""
    mine = scores.get(name) or {}
    sign = 1 if direction == "maximize" else -1
    found = []
    for other, theirs in scores.items():
        common = sorted(set(mine) & set(theirs or {}))
        if other == name or not common:
            continue
        difference = np.mean([mine[s] for s in common]) - np.mean([theirs[s] for s in common])
        found.append((other, float(difference), len(common), paired_p(mine, theirs)))
    if not found:
        return []
    reject, corrected = holm([f[3] for f in found], alpha)
    return [
        Comparison(
            other, diff, n, p, float(p_holm),
            ("better" if sign * diff > 0 else "worse") if r and n >= 2 else "tied",
        )
        for (other, diff, n, p), r, p_holm in zip(found, reject, corrected, strict=True)
    ]  # fmt: skip


def mean_ranks(means: Mapping[str, Mapping[str, float]], directions: Mapping[str, str]) -> dict:
    """Mean over tasks of each encoding's rank (1 = best; ties share the average rank).

    ``means`` maps task → {encoding: mean score}; encodings missing from a task are ranked
    over the tasks they have."""
    ranks: dict[str, list[float]] = {}
    for task, by_encoding in means.items():
        names = list(by_encoding)
        sign = -1 if directions[task] == "maximize" else 1
        order = stats.rankdata([sign * by_encoding[n] for n in names], method="average")
        for name, rank in zip(names, order, strict=True):
            ranks.setdefault(name, []).append(float(rank))
    return {name: float(np.mean(r)) for name, r in ranks.items()}


def mean_rank_intervals(
    values: Mapping[str, Mapping[str, Sequence[float]]],
    directions: Mapping[str, str],
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Bootstrap (``scipy.stats.bootstrap``, percentile) interval of each encoding's mean
    rank, resampling the seeds of every cell independently.

    ``values`` maps task → {encoding: scores over seeds}."""
    cells = [
        (task, name, np.asarray(v, float)) for task, by in values.items() for name, v in by.items()
    ]
    if not cells:
        return {}
    names = sorted({name for _, name, _ in cells})
    # scipy resamples samples of two or more values; a one-seed cell stays as it is
    varying = [i for i, c in enumerate(cells) if len(c[2]) >= 2 and np.ptp(c[2]) > 0]

    tasks = {task: [k for k, c in enumerate(cells) if c[0] == task] for task in values}

    def statistic(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        """Mean ranks, shape (encodings, *batch), for resampled cells of shape (*batch, n)."""
        means = [np.mean(c[2]) for c in cells]
        for i, sample in zip(varying, samples, strict=True):
            means[i] = np.mean(sample, axis=axis)
        batch = np.broadcast_shapes(*(np.shape(m) for m in means))
        total = {name: np.zeros(batch) for name in names}
        count = dict.fromkeys(names, 0)
        for task, members in tasks.items():
            sign = -1 if directions[task] == "maximize" else 1
            scores = np.stack([np.broadcast_to(sign * means[k], batch) for k in members], -1)
            ranks = stats.rankdata(scores, axis=-1, method="average")
            for j, k in enumerate(members):
                total[cells[k][1]] = total[cells[k][1]] + ranks[..., j]
                count[cells[k][1]] += 1
        return np.stack([total[name] / count[name] for name in names])

    if not varying:
        point = statistic()
        return {name: (float(p), float(p)) for name, p in zip(names, point, strict=True)}
    result = stats.bootstrap(
        tuple(cells[i][2] for i in varying),
        statistic,
        n_resamples=RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return {name: (float(lo), float(hi)) for name, lo, hi in zip(names, low, high, strict=True)}


def kendall_tau(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[float, float, int]:
    """Kendall's τ (and its p-value) between two rankings of the encodings both hold, given
    as {encoding: rank}; returns (τ, p, number of encodings compared)."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return math.nan, math.nan, len(common)
    result = stats.kendalltau([a[n] for n in common], [b[n] for n in common])
    return float(result.statistic), float(result.pvalue), len(common)
