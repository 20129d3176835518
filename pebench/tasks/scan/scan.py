"""SCAN's length splits (Lake & Baroni 2018; the re-split of Kazemnejad et al. 2023) as a
sequence-to-sequence decoder task."""

from __future__ import annotations

import random
from typing import Any, Literal

import torch
from torch import Tensor

from pebench.errors import PebenchError
from pebench.tasks.scan.grammar import ACTIONS, WORDS, commands
from pebench.tasks.synthetic.s2s_copy import Example, FiniteSeq2SeqTask

#: a symbol per input word and output action
SYMBOLS = {word: i for i, word in enumerate((*WORDS, *ACTIONS))}
NAMES = dict(enumerate(SYMBOLS))
#: the longest action sequence SCAN holds
MAX_ACTIONS = 48
#: the longest actions of the training split: the original length split, and Kazemnejad's
SPLITS = {"length": 22, "kazemnejad": 25}
Split = Literal["length", "kazemnejad"]


class Scan(FiniteSeq2SeqTask):
    """SCAN: a command (``jump opposite left after walk around left``) to its actions
    (``I_TURN_LEFT I_WALK`` ×4 ``I_TURN_LEFT I_TURN_LEFT I_JUMP``), read by a causal decoder
    as ``command <sep> actions <eos>`` and decoded greedily; exact match and token accuracy
    per output (action-sequence) length.

    ``split``: ``length`` is Lake & Baroni's length split (train: ≤ 22 actions, 16,990
    commands; test: ≥ 24, 3,920; no command has 23); ``kazemnejad`` is Kazemnejad et al.'s
    re-split (train ≤ 25 actions, 17,774; test > 25, 3,136). Selection needs an
    in-distribution validation set, which neither split has: ``validation_fraction`` of the
    training commands (10%, as Kazemnejad et al. hold out) is held out for it, drawn with
    ``data_seed``; the original length split keeps its other 90% for training.
    """

    name = "scan"
    description = "SCAN commands to actions, on its length split (Lake & Baroni 2018)"

    def __init__(
        self, split: Split = "length", validation_fraction: float = 0.1, data_seed: int = 1
    ) -> None:
        """
        Args:
            split: ``length`` (train ≤ 22 actions, test ≥ 24) or ``kazemnejad`` (≤ 25 / > 25).
            validation_fraction: share of the training commands held out for selection.
            data_seed: seed of the held-out draw, shared by every run of a comparison.
        """
        if split not in SPLITS:
            raise PebenchError(f"unknown SCAN split {split!r}; use 'length' or 'kazemnejad'")
        if not 0 < validation_fraction < 1:
            raise PebenchError(
                f"validation_fraction must be in (0, 1), got {validation_fraction}"
            )
        super().__init__("decoder", len(SYMBOLS), (1, SPLITS[split]), (1, MAX_ACTIONS), 1)
        self.split, self.validation_fraction, self.data_seed = split, validation_fraction, data_seed

    def splits(self) -> dict[str, list[Example]]:
        """Train, validation (held out of the training lengths) and test commands."""
        longest = self.train_lengths[1]
        pairs = [
            ([], [SYMBOLS[w] for w in command.split()], [SYMBOLS[a] for a in actions])
            for command, actions in commands()
        ]
        train = [ex for ex in pairs if len(ex[2]) <= longest]
        test = [ex for ex in pairs if len(ex[2]) > longest]
        random.Random(self.data_seed).shuffle(train)
        held = round(self.validation_fraction * len(train))
        return {"train": train[held:], "validation": train[:held], "test": test}

    def eval_batches(self, examples: list[Example], batch_size: int) -> list[dict[str, Tensor]]:
        """Evaluation batches of equal command and action lengths, reported by the action
        sequence's length (what the split is on)."""
        groups: dict[tuple[int, int], list[Example]] = {}
        for ex in examples:
            groups.setdefault((len(ex[2]), len(ex[1])), []).append(ex)
        batches = []
        for (actions, _), group in sorted(groups.items()):
            for start in range(0, len(group), batch_size):
                chunk = group[start : start + batch_size]
                batches.append({
                    "x": torch.tensor([self.source(ex) for ex in chunk]),
                    "y": torch.tensor([self.answer(ex) for ex in chunk]),
                    "length": torch.full((len(chunk),), actions, dtype=torch.long),
                })  # fmt: skip
        return batches

    def length_of(self, example: Example) -> int:
        return len(example[2])  # the split is on the action sequence's length

    def symbol(self, s: int) -> str:
        return NAMES[s]

    def summary_keys(self) -> set[str] | None:
        return {"id_token_accuracy", "id_exact_match"}

    def data_report(self) -> dict[str, Any] | None:
        return {"split": self.split}
