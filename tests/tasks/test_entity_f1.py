"""Entity F1 against seqeval (strict mode) on real and random predictions."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB1, IOB2, IOBES

from pebench.tasks.text.entity_f1 import EntityF1
from pebench.tasks.text.schemes import scheme_violation, spans

SEQEVAL = {"IOB1": IOB1, "IOB2": IOB2, "BIOES": IOBES}
PREFIXES = {"IOB1": "IB", "IOB2": "IB", "BIOES": "BIES"}


def random_tags(rng: random.Random, scheme: str, n: int) -> list[str]:
    choices = ["O"] + [f"{p}-{t}" for p in PREFIXES[scheme] for t in ("PER", "LOC", "ORG")]
    return [rng.choice(choices) for _ in range(n)]


def seqeval_scores(gold, pred, scheme):
    kw = {"mode": "strict", "scheme": SEQEVAL[scheme], "zero_division": 0}
    return (
        precision_score(gold, pred, **kw),
        recall_score(gold, pred, **kw),
        f1_score(gold, pred, **kw),
    )


@pytest.mark.parametrize("scheme", list(SEQEVAL))
def test_random_sequences_match_seqeval(scheme: str) -> None:
    rng = random.Random(scheme)
    for _ in range(30):
        gold = [random_tags(rng, scheme, rng.randint(1, 12)) for _ in range(20)]
        pred = [
            [t if rng.random() < 0.6 else random_tags(rng, scheme, 1)[0] for t in s] for s in gold
        ]
        metric = EntityF1(["LOC", "ORG", "PER"], scheme)
        metric.update(pred, gold)
        got = metric.compute()
        want = seqeval_scores(gold, pred, scheme)
        assert [got["precision"].item(), got["recall"].item(), got["f1"].item()] == pytest.approx(
            list(want), abs=1e-6
        )


def test_per_type_scores_and_report_match_seqeval() -> None:
    rng = random.Random(1)
    gold = [random_tags(rng, "IOB2", rng.randint(1, 10)) for _ in range(50)]
    pred = [[t if rng.random() < 0.7 else "O" for t in s] for s in gold]
    metric = EntityF1(["LOC", "ORG", "PER"], "IOB2")
    metric.update(pred, gold)
    want = classification_report(
        gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
    )
    for kind, values in metric.per_type().items():
        assert values["f1"] == pytest.approx(want[kind]["f1-score"], abs=1e-6)
        assert values["support"] == want[kind]["support"]
    assert "micro avg" in metric.report() and "PER" in metric.report()


def test_states_are_counts_that_add_up_across_batches() -> None:
    gold = [["B-PER", "I-PER", "O"], ["B-LOC"]]
    pred = [["B-PER", "I-PER", "O"], ["B-ORG"]]
    whole, parts = EntityF1(["LOC", "ORG", "PER"], "IOB2"), EntityF1(["LOC", "ORG", "PER"], "IOB2")
    whole.update(pred, gold)
    parts.update(pred[:1], gold[:1])
    parts.update(pred[1:], gold[1:])
    assert whole.compute() == parts.compute()
    assert whole.compute()["f1"].item() == pytest.approx(0.5)


def data_dir() -> Path:
    return Path(os.environ.get("PEBENCH_DATA_DIR", Path(__file__).parents[3] / "shared" / "data"))


def test_real_wikiann_tags_with_noisy_predictions_match_seqeval() -> None:
    path = data_dir() / "wikiann-en" / "dev.conll"
    if not path.exists():
        pytest.skip(f"shared dataset not found at {path}; set PEBENCH_DATA_DIR")
    gold, sentence = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            gold.append(sentence)
            sentence = []
            if len(gold) == 500:
                break
        else:
            sentence.append(line.split("\t")[-1])
    rng = random.Random(0)
    pred = [
        [t if rng.random() < 0.85 else rng.choice(["O", "B-PER", "I-ORG", "B-LOC"]) for t in s]
        for s in gold
    ]
    assert all(scheme_violation(s, "IOB2") is None for s in gold)
    metric = EntityF1(["LOC", "ORG", "PER"], "IOB2")
    metric.update(pred, gold)
    assert metric.compute()["f1"].item() == pytest.approx(
        seqeval_scores(gold, pred, "IOB2")[2], abs=1e-6
    )


def test_scheme_violations_are_found() -> None:
    assert scheme_violation(["O", "I-PER"], "IOB2") == 1
    assert scheme_violation(["B-PER", "I-LOC"], "IOB2") == 1
    assert scheme_violation(["B-PER", "I-PER", "O"], "IOB2") is None
    assert scheme_violation(["B-PER", "O"], "BIOES") == 0
    assert scheme_violation(["S-PER", "B-LOC", "E-LOC"], "BIOES") is None
    assert scheme_violation(["E-PER"], "IOB2") == 0
    assert spans(["B-PER", "I-PER", "O", "B-LOC"], "IOB2") == [("PER", 0, 2), ("LOC", 3, 4)]
