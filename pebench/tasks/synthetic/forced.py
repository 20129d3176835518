"""Exact match of a causal decoder in one teacher-forced pass.

Greedy decoding writes ``y <eos>`` exactly if and only if, fed the right prefix, the model's
next-token argmax is right at every position of ``y <eos>``: the first wrong argmax is where
greedy decoding would go wrong. So one forward pass over ``source <sep> y <eos>`` gives
greedy decoding's exact match for sequences of any lengths in one right-padded batch (a
causal model never reads the padding after a row's end), instead of one decoding step per
output token and one batch per shape. Its token accuracy is next-token accuracy under
teacher forcing, which is not greedy decoding's token accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from pebench.tasks.base import Model
from pebench.tasks.metrics import LengthAccuracy
from pebench.tasks.synthetic.sequence import IGNORE, PAD, SEP


def padded_rows(rows: Sequence[tuple[list[int], list[int]]]) -> dict[str, Tensor]:
    """``(source, answer)`` token rows right-padded into one batch: ``inputs`` = source <sep>
    answer[:-1], ``targets`` = the answer at its positions (else ``IGNORE``); the layout of
    training and of the forced pass alike."""
    width = max(len(src) + len(ans) for src, ans in rows)
    inputs = torch.full((len(rows), width), PAD, dtype=torch.long)
    targets = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for row, (src, ans) in enumerate(rows):
        sequence = src + [SEP] + ans
        inputs[row, : len(sequence) - 1] = torch.tensor(sequence[:-1])
        targets[row, len(src) : len(sequence) - 1] = torch.tensor(ans)
    return {"inputs": inputs, "targets": targets}


def forced_batches(
    rows: Sequence[tuple[list[int], list[int]]],
    length_of: Callable[[int], int],
    batch_size: int,
) -> list[dict[str, Tensor]]:
    """Evaluation batches of ``rows`` (sorted by width, so padding stays small), each row
    reported at ``length_of(index)``."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]) + len(rows[i][1]))
    batches = []
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = padded_rows([rows[i] for i in chunk])
        batches.append({**batch, "length": torch.tensor([length_of(i) for i in chunk])})
    return batches


@torch.no_grad()
def forced_update(model: Model, batch: dict[str, Tensor], metric: LengthAccuracy) -> None:
    """Update ``metric`` with a batch's teacher-forced predictions, each row at its
    ``length``: a row's exact match is greedy decoding's."""
    preds = model(batch["inputs"]).argmax(-1)
    mask = batch["targets"] != IGNORE
    metric.update(preds, batch["targets"].clamp(min=0), batch["length"], mask)


@torch.no_grad()
def forced_exact(model: Model, batch: dict[str, Tensor]) -> Tensor:
    """(batch,) whether greedy decoding would write each row's answer exactly."""
    preds = model(batch["inputs"]).argmax(-1)
    mask = batch["targets"] != IGNORE
    return ((preds == batch["targets"]) | ~mask).all(-1)
