"""Named-entity recognition: token classification with entity-level F1 (CoNLL evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pebench.errors import PebenchError
from pebench.tasks.base import Batch, Model, TokenHead
from pebench.tasks.text.common import IGNORE, TextTask
from pebench.tasks.text.entity_f1 import EntityF1
from pebench.tasks.text.readers import read_conll_numbered
from pebench.tasks.text.schemes import (
    SCHEMES,
    Scheme,
    better_scheme,
    scheme_violation,
    spans,
    split_tag,
)


class NER(TextTask):
    """Tag every word; scored by strict entity-level F1 (CoNLL, seqeval strict mode)."""

    name = "ner"
    description = "named-entity recognition (CoNLL files or hub datasets), entity-level F1"
    monitor = "f1"

    def summary_keys(self) -> set[str] | None:
        return {"precision", "recall", "f1", "token_accuracy"}

    def __init__(
        self,
        *args: Any,
        scheme: Scheme = "IOB2",
        token_column: int = 0,
        tag_column: int = -1,
        tokens_field: str = "tokens",
        tags_field: str = "ner_tags",
        **kwargs: Any,
    ) -> None:
        """
        Args:
            scheme: tag scheme of the data: IOB1, IOB2 or BIOES.
            token_column: column of the token in local CoNLL files.
            tag_column: column of the tag in local CoNLL files (-1: the last).
            tokens_field: column of a hub dataset holding the words.
            tags_field: column of a hub dataset holding the tags.
            *args, **kwargs: data and tokenization options of :class:`TextTask`.
        """
        if scheme not in SCHEMES:
            raise PebenchError(f"unknown tag scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
        self.scheme, self.token_column, self.tag_column = scheme, token_column, tag_column
        self.tokens_field, self.tags_field = tokens_field, tags_field
        super().__init__(*args, **kwargs)

    def options_key(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "columns": [self.token_column, self.tag_column],
            "fields": [self.tokens_field, self.tags_field],
        }

    def read_file(self, path: Path) -> list[tuple[list[str], Any]]:
        sentences = read_conll_numbered(path, self.token_column, self.tag_column, self.encoding)
        examples = [
            (words, tags, [f"{path}:{line}" for line in lines]) for words, tags, lines in sentences
        ]
        self.check_scheme(examples)
        return examples

    def check_scheme(self, examples: list[tuple[list[str], list[str], list[str]]]) -> None:
        """Gold tags must follow the scheme, and not be data of another scheme that this one
        reads with fewer entities (IOB2 read as IOB1); errors name the first place."""
        for _, tags, where in examples:
            bad = scheme_violation(tags, self.scheme)
            if bad is not None:
                raise PebenchError(
                    f"{where[bad]}: tag {tags[bad]!r} breaks the {self.scheme} scheme; fix the "
                    f"data or set --task.scheme"
                )
        better = better_scheme([tags for _, tags, _ in examples], self.scheme)
        if better is not None:
            other, first = better
            total = [
                sum(len(spans(tags, s)) for _, tags, _ in examples) for s in (self.scheme, other)
            ]
            raise PebenchError(
                f"{examples[first][2][0]}: the data is valid {other} and read as {self.scheme} "
                f"it loses entities ({total[0]} instead of {total[1]}); set --task.scheme "
                f"{other}"
            )

    def read_hub(self, split: str) -> list[tuple[list[str], Any]]:
        fields = {"tokens_field": self.tokens_field, "tags_field": self.tags_field}
        data = self.hub_split(split, fields)
        feature = data.features[self.tags_field].feature
        names = getattr(feature, "names", None)
        examples = [
            (
                row[self.tokens_field],
                [names[t] if names else str(t) for t in row[self.tags_field]],
                [f"hub {self.hub_dataset} {split} sentence {n + 1}"] * len(row[self.tags_field]),
            )
            for n, row in enumerate(data)
        ]
        self.check_scheme(examples)  # the same checks as local files
        return examples

    def label_set(self, train: list[tuple[list[str], Any]]) -> list[str]:
        tags = {t for example in train for t in example[1]}
        return ["O", *sorted(tags - {"O"}, key=lambda t: (split_tag(t)[1], split_tag(t)[0]))]

    def encode_label(self, raw: Any, where: str | list[str]) -> list[int]:
        index = {t: i for i, t in enumerate(self.labels)}
        unknown = [i for i, t in enumerate(raw) if t not in index]
        if unknown:
            at = where[unknown[0]] if isinstance(where, list) else where
            raise PebenchError(
                f"{at}: tag {raw[unknown[0]]!r} does not occur in the training split; "
                f"the label set is read from training data"
            )
        return [index[t] for t in raw]

    @property
    def entity_types(self) -> list[str]:
        return sorted({split_tag(t)[1] for t in self.labels if t != "O"})

    def build_head(self, d_model: int) -> nn.Module:
        self.prepared()
        return TokenHead(d_model, len(self.labels))

    def collate_labels(self, rows: list[dict[str, Any]], ids: list[list[int]]) -> dict[str, Tensor]:
        width = max(len(i) for i in ids)
        targets = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        starts = torch.full((len(rows), max(r["n_words"] for r in rows)), -1, dtype=torch.long)
        gold = torch.full_like(starts, IGNORE)
        for b, row in enumerate(rows):
            for w, (start, label) in enumerate(zip(row["starts"], row["label"], strict=True)):
                gold[b, w] = label
                if start < len(ids[b]):  # words cut off by truncation get no training target
                    targets[b, start] = label
                    starts[b, w] = start
        return {"targets": targets, "word_starts": starts, "gold": gold}

    def loss(self, model: Model, batch: Batch) -> Tensor:
        logits = self.logits(model, batch)
        return F.cross_entropy(
            logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE
        )

    def build_metric(self) -> EntityF1:
        self.prepared()
        return EntityF1(self.entity_types, self.scheme, self.length_buckets)

    #: predictions files are CoNLL: word, gold tag, predicted tag; a blank line per sentence
    prediction_format = ("conll", None)

    def predict(self, model: Model, batch: Batch) -> list[list[str]]:
        predicted = self.logits(model, batch).argmax(-1)  # (B, T)
        preds = []
        for b in range(predicted.shape[0]):
            n = int(batch["n_words"][b])
            starts = batch["word_starts"][b, :n]
            # a word truncated away is predicted "O": truncation costs recall honestly
            labels = torch.where(starts >= 0, predicted[b].gather(0, starts.clamp(min=0)), 0)
            preds.append([self.labels[i] for i in labels.tolist()])
        return preds

    def prediction_rows(self, example: tuple[Any, ...], predicted: Any) -> list[list[str]]:
        words, tags = example[0], example[1]
        return [[w, g, p] for w, g, p in zip(words, tags, predicted, strict=True)] + [[]]

    @torch.no_grad()
    def evaluate(self, model: Model, batch: Batch, metric: EntityF1) -> None:
        preds = self.predict(model, batch)
        golds = [
            [self.labels[i] for i in batch["gold"][b, : int(batch["n_words"][b])].tolist()]
            for b in range(len(preds))
        ]
        metric.update(preds, golds)

    def results(self, metric: EntityF1) -> dict[str, Any]:
        summary = {k: v.item() for k, v in metric.compute().items()}
        return {
            "summary": summary,
            "per_type": metric.per_type(),
            "per_length": metric.per_bucket(),
            "report": metric.report(),
        }
