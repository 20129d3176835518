"""Causal language modelling on a text corpus, evaluated at several context lengths: the
train-short-test-long perplexity curve of Press et al. 2022 (ALiBi), KERPLE, FIRE and xPos.

Training draws random windows of ``context`` + 1 tokens from the training split (batch ``s``
from a generator seeded with (seed, s), so runs are reproducible and resumable) with the loss
on every position. Evaluation cuts the validation split into windows of each length in
``eval_contexts``: non-overlapping windows (every token scored once; the last window may be
shorter), or with ``stride`` S < length, sliding windows that score only their last S tokens,
so each token is predicted from at least length − S tokens of left context (Press et al.).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn
from torch.utils.data import DataLoader

from pebench.data_files import data_path
from pebench.errors import PebenchError
from pebench.tasks.base import Batch, Model, Task, TokenHead, position_limit, step_stream
from pebench.tasks.columns import MetricColumn, context_columns
from pebench.tasks.lm.corpus import Tokenizer, build_tokenizer, hub_text, read_text, split_text
from pebench.tasks.metrics import ContextLoss

IGNORE = -100


def eval_windows(
    n_tokens: int, length: int, stride: int | None = None
) -> list[tuple[int, int, int]]:
    """Windows over ``n_tokens`` tokens as (start, end, first_scored): inputs are tokens
    [start, end), targets [start + 1, end + 1), and targets from index ``first_scored`` on
    are scored. Every target 1..n_tokens − 1 is scored exactly once. Without ``stride`` the
    windows do not overlap; with it, full-length windows advance by ``stride`` tokens."""
    windows: list[tuple[int, int, int]] = []
    step = length if stride is None else stride
    start, scored_to = 0, 0  # targets up to scored_to are done
    while scored_to < n_tokens - 1:
        end = min(start + length, n_tokens - 1)
        if stride is not None:
            start = max(0, end - length)  # the last sliding window keeps its full length
        windows.append((start, end, scored_to + 1))
        scored_to = end
        start += step
    return windows


class LMDataModule(LightningDataModule):
    """Random training windows; evaluation windows grouped by context length."""

    def __init__(self, task: LanguageModelling, batch_size: int, seed: int) -> None:
        super().__init__()
        self.task, self.batch_size, self.seed = task, batch_size, seed

    def train_dataloader(self) -> DataLoader:
        tokens = self.task.tokens()["train"]
        offsets = torch.arange(self.task.context + 1)

        def windows(step: int) -> dict[str, Tensor]:
            """``batch_size`` random windows of the training tokens, from (seed, step)."""
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
            high = len(tokens) - self.task.context
            starts = torch.randint(0, high, (self.batch_size,), generator=gen)
            chunk = tokens[starts[:, None] + offsets]
            return {"inputs": chunk[:, :-1], "targets": chunk[:, 1:]}

        return step_stream(self, windows)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.task.eval_batches(self.batch_size), batch_size=None)


class LanguageModelling(Task):
    """Causal language model over characters or bytes; validation loss (nats/token), bits per
    token and perplexity at each evaluation length (Press et al. 2022's protocol)."""

    name = "lm"
    description = "causal language modelling; loss, bpc, perplexity per evaluation length"
    monitor = "loss"
    monitor_direction = "minimize"

    def __init__(
        self,
        text_file: str | None = "tinyshakespeare/input.txt",
        data_dir: str | None = None,
        encoding: str = "utf-8",
        hub_dataset: str | None = None,
        hub_config: str | None = None,
        text_column: str = "text",
        tokenizer: Tokenizer = "char",
        train_fraction: float = 0.9,
        context: int = 64,
        eval_contexts: list[int] | None = None,
        stride: int | None = None,
        eval_tokens: int | None = None,
    ) -> None:
        """
        Args:
            text_file: local text file (relative paths are under ``data_dir``); ignored when
                ``hub_dataset`` is set.
            data_dir: base of a relative ``text_file``; default ``$PEBENCH_DATA_DIR`` or
                ``../shared/data``.
            encoding: the text file's encoding.
            hub_dataset: a Hugging Face dataset with train/validation splits (e.g. wikitext).
            hub_config: its configuration (e.g. ``wikitext-103-raw-v1``).
            text_column: the hub dataset's text column.
            tokenizer: ``char`` (vocabulary of the training split) or ``byte`` (UTF-8 bytes).
            train_fraction: share of a single file used for training (the rest validates).
            context: training window length in tokens.
            eval_contexts: evaluation window lengths; default context × 1, 2, 4, 8, 16.
            stride: sliding-window evaluation scoring the last ``stride`` tokens of each
                window; default: non-overlapping windows.
            eval_tokens: evaluate only the first this many validation tokens (CPU budgets).
        """
        if context < 1:
            raise PebenchError(f"context must be at least 1, got {context}")
        contexts = eval_contexts or [context * m for m in (1, 2, 4, 8, 16)]
        if any(n < 1 for n in contexts) or len(set(contexts)) != len(contexts):
            raise PebenchError(f"eval_contexts must be distinct positive lengths, got {contexts}")
        contexts = sorted({*contexts, context})  # the monitor is the loss at the training context
        if stride is not None and not 1 <= stride <= min(contexts):
            raise PebenchError(
                f"stride must be between 1 and the shortest evaluation context "
                f"{min(contexts)}, got {stride}"
            )
        if text_file is None and hub_dataset is None:
            raise PebenchError("give --task.text_file or --task.hub_dataset")
        self.text_file, self.data_dir, self.encoding = text_file, data_dir, encoding
        self.hub_dataset, self.hub_config, self.text_column = hub_dataset, hub_config, text_column
        self.tokenizer_kind, self.train_fraction = tokenizer, train_fraction
        self.context, self.eval_contexts = context, sorted(contexts)
        self.stride, self.eval_tokens = stride, eval_tokens
        self._tokens: dict[str, Tensor] | None = None
        self._tokenizer: Any = None

    # -- data ---------------------------------------------------------------------------
    def texts(self) -> dict[str, str]:
        """The raw ``train`` and ``validation`` text."""
        if self.hub_dataset is not None:
            return hub_text(self.hub_dataset, self.hub_config, self.text_column)
        path = data_path(self.text_file, self.data_dir)
        return split_text(read_text(path, self.encoding), self.train_fraction)

    def tokens(self) -> dict[str, Tensor]:
        """Token ids of both splits (read and tokenized once per task instance)."""
        if self._tokens is None:
            texts = self.texts()
            self._tokenizer = build_tokenizer(self.tokenizer_kind, texts["train"])
            self._tokens = {split: self._tokenizer.encode(t) for split, t in texts.items()}
            if self.eval_tokens is not None:
                self._tokens["validation"] = self._tokens["validation"][: self.eval_tokens + 1]
            for split, ids in self._tokens.items():
                needed = self.context + 2 if split == "train" else 2
                if len(ids) < needed:
                    raise PebenchError(
                        f"the {split} split has {len(ids)} tokens, fewer than {needed}; use more "
                        f"text or a shorter context"
                    )
        return self._tokens

    def eval_batches(self, batch_size: int) -> list[dict[str, Any]]:
        """Evaluation batches: windows of one length each, targets ``IGNORE`` where unscored."""
        valid = self.tokens()["validation"]
        batches = []
        for length in self.eval_contexts:
            windows = eval_windows(len(valid), length, self.stride)
            by_size: dict[int, list[tuple[int, int, int]]] = {}
            for window in windows:
                by_size.setdefault(window[1] - window[0], []).append(window)
            for size, group in by_size.items():
                for i in range(0, len(group), batch_size):
                    chunk = group[i : i + batch_size]
                    inputs = torch.stack([valid[s:e] for s, e, _ in chunk])
                    targets = torch.stack([valid[s + 1 : e + 1] for s, e, _ in chunk]).clone()
                    for row, (s, _, first) in enumerate(chunk):
                        targets[row, : first - s - 1] = IGNORE
                    batches.append(
                        {"inputs": inputs, "targets": targets, "length": length, "size": size}
                    )
        return batches

    # -- task interface ------------------------------------------------------------------
    @property
    def causal(self) -> bool:
        return True

    @property
    def vocab_size(self) -> int:
        self.tokens()
        return self._tokenizer.vocab_size

    def build_head(self, d_model: int) -> nn.Module:
        return TokenHead(d_model, self.vocab_size)

    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        return LMDataModule(self, batch_size, seed)

    def loss(self, model: Model, batch: Batch) -> Tensor:
        logits = model(batch["inputs"])
        return F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten())

    def summary_keys(self) -> set[str] | None:
        return {"loss", "bpc", "perplexity", *(f"loss_{n}" for n in self.eval_contexts)}

    def build_metric(self) -> ContextLoss:
        return ContextLoss(self.eval_contexts, self.context)

    @torch.no_grad()
    def evaluate(self, model: Model, batch: Batch, metric: ContextLoss) -> None:
        length, inputs, targets = int(batch["length"]), batch["inputs"], batch["targets"]
        limit = position_limit(model)
        if limit is not None and inputs.shape[1] > limit:
            metric.mark_not_applicable(length)  # e.g. a learned table shorter than the window
            return
        logits = model(inputs)
        scored = targets != IGNORE
        nll = F.cross_entropy(
            logits.float().transpose(1, 2), targets.clamp(min=0), reduction="none"
        )
        metric.update(length, nll, scored)

    def results(self, metric: ContextLoss) -> dict[str, Any]:
        return {
            "summary": metric.compute(),
            "per_length": {str(n): values for n, values in metric.per_length().items()},
            "train_max_length": self.context,
            "evaluation": "sliding" if self.stride else "non-overlapping",
        }

    def columns(self, metric: str, results: dict[str, Any]) -> list[MetricColumn]:
        """The loss at 1×, 4× and 16× the training context and the longest evaluated, ranked
        on the longest."""
        summary = results.get("summary", {})
        return context_columns(metric, summary, self.context) or super().columns(metric, results)

    def count_tokens(self, batch: Batch) -> int:
        return batch["inputs"].numel()

    def save_artifacts(self, output_dir: Path) -> None:
        self.tokens()
        self._tokenizer.save(output_dir / "tokenizer.json")
