"""Evaluation metrics by length: accuracy aggregated in-distribution (ID) and
out-of-distribution (OOD) for the transduction tasks, loss per context for language models."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric


class SummedMetric(Metric):
    """A metric whose states are sums, read whole: the training module sums them across
    processes once (:meth:`sum_across_processes`) before the task reads them, per-length
    views and ``compute`` alike, so ``compute`` does not gather them again. (torchmetrics
    gathers only inside ``compute`` and restores each process's share after it, so a view
    read beside ``compute`` would hold one process's data.)"""

    def __init__(self) -> None:
        super().__init__(sync_on_compute=False)

    def sum_across_processes(self) -> None:
        """Sum every state over the run's processes, in place; a no-op in one process."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        for value in self.metric_state.values():
            if isinstance(value, Tensor):
                torch.distributed.all_reduce(value)


class LengthAccuracy(SummedMetric):
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


class ContextLoss(SummedMetric):
    """Language-model loss per evaluated context length, overall and split at the training
    context (positions before ``context`` vs at or after it), in nats per token.

    States are sums across processes: for each length, summed negative log-likelihood and
    token counts for all scored tokens, for those at positions < ``context`` (head) and for
    the rest (tail); and a flag for lengths the encoding cannot represent.
    """

    full_state_update = False
    STATES = ("nll", "tokens", "head_nll", "head_tokens", "tail_nll", "tail_tokens")

    def __init__(self, lengths: list[int], context: int) -> None:
        super().__init__()
        self.lengths, self.context = list(lengths), context
        for state in (*self.STATES, "not_applicable"):
            dtype = torch.float64 if "nll" in state else torch.long
            self.add_state(state, torch.zeros(len(lengths), dtype=dtype), dist_reduce_fx="sum")

    def update(self, length: int, nll: Tensor, scored: Tensor) -> None:
        """``nll`` (batch, n) per-position losses and ``scored`` (batch, n) which count, for
        windows evaluated at context ``length``."""
        k = self.lengths.index(length)
        nll = nll.double() * scored
        head = torch.arange(nll.shape[-1], device=nll.device) < self.context
        self.nll[k] += nll.sum()
        self.tokens[k] += scored.sum()
        self.head_nll[k] += nll[:, head].sum()
        self.head_tokens[k] += scored[:, head].sum()
        self.tail_nll[k] += nll[:, ~head].sum()
        self.tail_tokens[k] += scored[:, ~head].sum()

    def mark_not_applicable(self, length: int) -> None:
        self.not_applicable[self.lengths.index(length)] += 1

    def per_length(self) -> dict[int, dict[str, float | None]]:
        """{length: loss, bpc, perplexity, loss_head, loss_tail, tokens}; every value None for
        a length the encoding cannot represent."""
        out: dict[int, dict[str, float | None]] = {}
        for k, length in enumerate(self.lengths):
            if self.not_applicable[k] or not self.tokens[k]:
                out[length] = dict.fromkeys(
                    ("loss", "bpc", "perplexity", "loss_head", "loss_tail", "tokens")
                )
                continue
            loss = float(self.nll[k] / self.tokens[k])
            out[length] = {
                "loss": loss,
                "bpc": loss / math.log(2),
                "perplexity": math.exp(min(loss, 700.0)),
                "loss_head": float(self.head_nll[k] / self.head_tokens[k])
                if self.head_tokens[k]
                else None,
                "loss_tail": float(self.tail_nll[k] / self.tail_tokens[k])
                if self.tail_tokens[k]
                else None,
                "tokens": int(self.tokens[k]),
            }
        return out

    def compute(self) -> dict[str, float | None]:
        """``loss``/``bpc``/``perplexity`` at the training context and ``loss_<n>`` per length."""
        per_length = self.per_length()
        at_context = per_length.get(self.context, {})
        out: dict[str, float | None] = {
            "loss": at_context.get("loss"),
            "bpc": at_context.get("bpc"),
            "perplexity": at_context.get("perplexity"),
        }
        out.update({f"loss_{n}": values["loss"] for n, values in per_length.items()})
        return out
