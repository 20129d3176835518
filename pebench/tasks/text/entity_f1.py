"""Entity-level precision, recall and F1 (strict span match, as the CoNLL evaluation and
``seqeval``'s strict mode define them), as a torchmetrics Metric whose states are counts."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from pebench.tasks.metrics import SummedMetric
from pebench.tasks.text.schemes import Scheme, spans


def prf(tp: float, pred: float, gold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts (0 where undefined, as seqeval reports)."""
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


class EntityF1(SummedMetric):
    """Counts true-positive, predicted and gold entities per type and per length bucket.

    ``bucket_edges`` [10, 20] makes buckets of sentence lengths 1–10, 11–20 and 21+.
    """

    full_state_update = False

    def __init__(self, types: Sequence[str], scheme: Scheme, bucket_edges: Sequence[int] = ()):
        super().__init__()
        self.types, self.scheme = list(types), scheme
        self.bucket_edges = list(bucket_edges)
        n_buckets = len(self.bucket_edges) + 1
        for state, size in (
            ("tp", len(types)),
            ("pred", len(types)),
            ("gold", len(types)),
            ("bucket_tp", n_buckets),
            ("bucket_pred", n_buckets),
            ("bucket_gold", n_buckets),
            ("token_correct", 1),
            ("token_total", 1),
        ):
            self.add_state(state, torch.zeros(size, dtype=torch.long), dist_reduce_fx="sum")

    def bucket(self, length: int) -> int:
        return sum(length > edge for edge in self.bucket_edges)

    def update(self, preds: Sequence[Sequence[str]], target: Sequence[Sequence[str]]) -> None:
        """``preds``/``target``: one tag sequence per sentence (strings)."""
        index = {t: i for i, t in enumerate(self.types)}
        for pred_tags, gold_tags in zip(preds, target, strict=True):
            pred_spans = set(spans(pred_tags, self.scheme))
            gold_spans = set(spans(gold_tags, self.scheme))
            b = self.bucket(len(gold_tags))
            for kind, found in (
                ("pred", pred_spans),
                ("gold", gold_spans),
                ("tp", pred_spans & gold_spans),
            ):
                counts = getattr(self, kind)
                for span in found:
                    if span.type in index:
                        counts[index[span.type]] += 1
                getattr(self, f"bucket_{kind}")[b] += len(found)
            self.token_correct += sum(p == g for p, g in zip(pred_tags, gold_tags, strict=True))
            self.token_total += len(gold_tags)

    def compute(self) -> dict[str, Tensor]:
        """Micro precision/recall/F1 over all types, and token accuracy."""
        p, r, f = prf(*(getattr(self, k).sum().item() for k in ("tp", "pred", "gold")))
        accuracy = self.token_correct.item() / max(1, self.token_total.item())
        return {
            k: torch.tensor(v)
            for k, v in {"precision": p, "recall": r, "f1": f, "token_accuracy": accuracy}.items()
        }

    def per_type(self) -> dict[str, dict[str, float]]:
        out = {}
        for i, kind in enumerate(self.types):
            p, r, f = prf(self.tp[i].item(), self.pred[i].item(), self.gold[i].item())
            out[kind] = {"precision": p, "recall": r, "f1": f, "support": int(self.gold[i])}
        return out

    def per_bucket(self) -> dict[str, dict[str, float]]:
        out = {}
        lows = [1] + [e + 1 for e in self.bucket_edges]
        highs = [str(e) for e in self.bucket_edges] + [""]
        for b, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
            p, r, f = prf(
                self.bucket_tp[b].item(), self.bucket_pred[b].item(), self.bucket_gold[b].item()
            )
            label = f"{lo}-{hi}" if hi else f"{lo}+"
            out[label] = {"precision": p, "recall": r, "f1": f, "support": int(self.bucket_gold[b])}
        return out

    def report(self, digits: int = 4) -> str:
        """A classification report laid out like the one ``seqeval`` prints."""
        rows = self.per_type()
        width = max([len(t) for t in rows] + [len("weighted avg")])
        head = f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"
        lines = [head, ""]
        for kind, v in rows.items():
            lines.append(
                f"{kind:>{width}} {v['precision']:>9.{digits}f} {v['recall']:>9.{digits}f} "
                f"{v['f1']:>9.{digits}f} {v['support']:>9}"
            )
        total = int(self.gold.sum())
        micro = {k: v.item() for k, v in self.compute().items()}
        macro = [
            sum(v[k] for v in rows.values()) / max(1, len(rows))
            for k in ("precision", "recall", "f1")
        ]
        weighted = [
            sum(v[k] * v["support"] for v in rows.values()) / max(1, total)
            for k in ("precision", "recall", "f1")
        ]
        lines.append("")
        for label, (p, r, f) in (
            ("micro avg", (micro["precision"], micro["recall"], micro["f1"])),
            ("macro avg", macro),
            ("weighted avg", weighted),
        ):
            lines.append(
                f"{label:>{width}} {p:>9.{digits}f} {r:>9.{digits}f} {f:>9.{digits}f} {total:>9}"
            )
        return "\n".join(lines) + "\n"
