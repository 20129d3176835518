"""Text classification: one label per text, pooled representation, accuracy and macro-F1."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from pebench.errors import PebenchError
from pebench.tasks.base import Batch, Model
from pebench.tasks.metrics import SummedMetric
from pebench.tasks.text.common import TextTask
from pebench.tasks.text.readers import read_table

Pooling = Literal["mean", "first", "last"]


class PooledHead(nn.Module):
    """Pool the hidden states of real tokens (mean, first or last), then a linear classifier."""

    def __init__(self, d_model: int, num_classes: int, pooling: Pooling) -> None:
        super().__init__()
        self.pooling = pooling
        self.proj = nn.Linear(d_model, num_classes)

    def forward(self, hidden: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        keep = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        if padding_mask is not None:
            keep = ~padding_mask
        if self.pooling == "mean":
            pooled = (hidden * keep.unsqueeze(-1)).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)
        elif self.pooling == "first":
            pooled = hidden[:, 0]
        else:
            last = keep.sum(1).clamp(min=1) - 1
            pooled = hidden[torch.arange(hidden.shape[0]), last]
        return self.proj(pooled)


class ClassificationMetric(SummedMetric):
    """Accuracy and macro-F1 (torchmetrics), plus accuracy per length bucket."""

    full_state_update = False

    def __init__(self, num_classes: int, bucket_edges: list[int]) -> None:
        super().__init__()
        self.accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.macro_f1 = MulticlassF1Score(num_classes, average="macro")
        self.bucket_edges = bucket_edges
        n = len(bucket_edges) + 1
        self.add_state("bucket_correct", torch.zeros(n, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("bucket_total", torch.zeros(n, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, lengths: Tensor) -> None:
        self.accuracy.update(preds, target)
        self.macro_f1.update(preds, target)
        edges = torch.tensor(self.bucket_edges, device=lengths.device)
        bucket = torch.bucketize(lengths, edges, right=False)
        self.bucket_correct.index_add_(0, bucket, (preds == target).long())
        self.bucket_total.index_add_(0, bucket, torch.ones_like(bucket))

    def compute(self) -> dict[str, Tensor]:
        return {"accuracy": self.accuracy.compute(), "macro_f1": self.macro_f1.compute()}

    def reset(self) -> None:
        super().reset()
        self.accuracy.reset()
        self.macro_f1.reset()

    def per_bucket(self) -> dict[str, dict[str, float]]:
        lows = [1] + [e + 1 for e in self.bucket_edges]
        highs = [str(e) for e in self.bucket_edges] + [""]
        out = {}
        for b, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
            total = int(self.bucket_total[b])
            out[f"{lo}-{hi}" if hi else f"{lo}+"] = {
                "accuracy": self.bucket_correct[b].item() / total if total else 0.0,
                "support": total,
            }
        return out


class TextClassification(TextTask):
    """Classify whole texts; scored by accuracy and macro-F1."""

    name = "classification"
    description = "text classification (CSV/TSV/JSONL or hub datasets), accuracy and macro-F1"
    monitor = "accuracy"

    def __init__(
        self,
        *args: Any,
        text_column: str | int | list[str | int] = "sentence",
        label_column: str | int = "label",
        header: bool = True,
        text_separator: str = " ",
        pooling: Pooling = "mean",
        **kwargs: Any,
    ) -> None:
        """
        Args:
            text_column: column (name, or index without a header) of the text, or a list of
                columns joined with ``text_separator`` (AG News: title and description).
            label_column: column of the label (string or integer labels).
            header: whether CSV/TSV files start with a header row.
            text_separator: what joins several text columns.
            pooling: ``mean`` of real tokens, ``first`` token or ``last`` real token (use
                ``last`` with a causal model).
            *args, **kwargs: data and tokenization options of :class:`TextTask`.
        """
        if pooling not in ("mean", "first", "last"):
            raise PebenchError(f"pooling must be 'mean', 'first' or 'last', got {pooling!r}")
        self.text_column, self.label_column = text_column, label_column
        self.header, self.pooling = header, pooling
        self.text_separator = text_separator
        super().__init__(*args, **kwargs)

    def options_key(self) -> dict[str, Any]:
        return {
            "columns": [self.text_column, self.label_column],
            "header": self.header,
            "separator": self.text_separator,
        }

    def read_file(self, path: Path) -> list[tuple[list[str], Any, str]]:
        rows = read_table(
            path,
            self.text_column,
            self.label_column,
            self.header,
            self.encoding,
            self.text_separator,
        )
        return [(t.split(), label, f"{path}:{line}") for t, label, line in rows]

    def read_hub(self, split: str) -> list[tuple[list[str], Any]]:
        texts = self.text_column if isinstance(self.text_column, list) else [self.text_column]
        data = self.hub_split(split, {"label_column": str(self.label_column)})
        for column in texts:
            if column not in data.column_names:
                raise PebenchError(
                    f"hub dataset {self.hub_dataset} has no column {column!r} (columns: "
                    f"{', '.join(data.column_names)}); set --task.text_column"
                )
        names = getattr(data.features[self.label_column], "names", None)
        return [
            (
                self.text_separator.join(str(row[t]) for t in texts).split(),
                names[row[self.label_column]] if names else str(row[self.label_column]),
            )
            for row in data
        ]

    def label_set(self, train: list[tuple[list[str], Any]]) -> list[str]:
        labels = {str(example[1]) for example in train}
        as_int = all(label.lstrip("-").isdigit() for label in labels)
        return sorted(labels, key=int) if as_int else sorted(labels)

    def encode_label(self, raw: Any, where: str) -> int:
        try:
            return self.labels.index(str(raw))
        except ValueError:
            raise PebenchError(
                f"{where}: label {raw!r} does not occur in the training split"
            ) from None

    def summary_keys(self) -> set[str] | None:
        return {"accuracy", "macro_f1"}

    def build_head(self, d_model: int) -> nn.Module:
        self.prepared()
        return PooledHead(d_model, len(self.labels), self.pooling)

    def collate_labels(self, rows: list[dict[str, Any]], ids: list[list[int]]) -> dict[str, Tensor]:
        return {"targets": torch.tensor([r["label"] for r in rows], dtype=torch.long)}

    def loss(self, model: Model, batch: Batch) -> Tensor:
        return F.cross_entropy(self.logits(model, batch), batch["targets"])

    def build_metric(self) -> ClassificationMetric:
        self.prepared()
        return ClassificationMetric(len(self.labels), self.length_buckets)

    prediction_format = ("csv", ["text", "label", "prediction"])

    def predict(self, model: Model, batch: Batch) -> list[str]:
        return [self.labels[i] for i in self.logits(model, batch).argmax(-1).tolist()]

    def prediction_rows(self, example: tuple[Any, ...], predicted: Any) -> list[list[str]]:
        return [[" ".join(example[0]), str(example[1]), predicted]]

    @torch.no_grad()
    def evaluate(self, model: Model, batch: Batch, metric: ClassificationMetric) -> None:
        preds = self.logits(model, batch).argmax(-1)
        metric.update(preds, batch["targets"], batch["n_words"])

    def results(self, metric: ClassificationMetric) -> dict[str, Any]:
        summary = {k: v.item() for k, v in metric.compute().items()}
        return {"summary": summary, "per_length": metric.per_bucket(), "labels": self.labels}
