"""Accuracy by sequence length, aggregated in-distribution (ID) and out-of-distribution (OOD)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class LengthAccuracy(Metric):
    """Per-token accuracy and whole-sequence exact match for each input length.

    States are counts summed across processes. Aggregates over a range of lengths are the
    mean of the per-length values (each length weighs the same, as in Kazemnejad et al. 2023
    and Ruoss et al. 2023), over the lengths that were evaluated.
    """

    full_state_update = False

    def __init__(self, max_length: int, train_max_length: int) -> None:
        super().__init__()
        self.max_length = max_length
        self.train_max_length = train_max_length
        for state in ("token_correct", "token_total", "seq_correct", "seq_total"):
            self.add_state(
                state, torch.zeros(max_length + 1, dtype=torch.long), dist_reduce_fx="sum"
            )

    def update(self, preds: Tensor, target: Tensor, lengths: Tensor, mask: Tensor) -> None:
        """``preds``/``target``/``mask`` (batch, m); ``lengths`` (batch,) input lengths."""
        correct = (preds == target) & mask
        self.token_correct.index_add_(0, lengths, correct.sum(-1))
        self.token_total.index_add_(0, lengths, mask.sum(-1))
        whole = (correct | ~mask).all(-1).long()
        self.seq_correct.index_add_(0, lengths, whole)
        self.seq_total.index_add_(0, lengths, torch.ones_like(whole))

    def per_length(self) -> dict[int, dict[str, float]]:
        """{length: {"token_accuracy", "exact_match", "count"}} for every evaluated length."""
        out = {}
        for n in torch.nonzero(self.seq_total).flatten().tolist():
            out[n] = {
                "token_accuracy": (self.token_correct[n] / self.token_total[n].clamp(min=1)).item(),
                "exact_match": (self.seq_correct[n] / self.seq_total[n]).item(),
                "count": int(self.seq_total[n]),
            }
        return out

    def compute(self) -> dict[str, Tensor]:
        """Mean per-length token accuracy and exact match over ID and OOD lengths."""
        evaluated = self.seq_total > 0
        lengths = torch.arange(self.max_length + 1, device=self.seq_total.device)
        token_acc = self.token_correct / self.token_total.clamp(min=1)
        exact = self.seq_correct / self.seq_total.clamp(min=1)
        out = {}
        for split, in_split in (
            ("id", lengths <= self.train_max_length),
            ("ood", lengths > self.train_max_length),
        ):
            chosen = evaluated & in_split
            if chosen.any():
                out[f"{split}_token_accuracy"] = token_acc[chosen].mean()
                out[f"{split}_exact_match"] = exact[chosen].mean()
        return out
