"""Text corpora for language modelling: where the text comes from, how it is split, and how
it becomes one stream of token ids (characters or bytes).

A single local file is split char-rnn/nanoGPT style (first ``train_fraction`` for training,
the rest for validation); a Hugging Face dataset keeps its own splits, its text column joined
with newlines. The character vocabulary comes from the training split only; characters it
has not seen map to one ``<unk>`` id, so validation text never changes the vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from pebench.errors import PebenchError
from pebench.tasks.hub import load_hub_split

Tokenizer = Literal["char", "byte"]
UNK = "<unk>"


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The whole file as text, with a one-line error naming the file when it cannot be read."""
    if not path.is_file():
        raise PebenchError(f"text file {path} does not exist; check --task.text_file/data_dir")
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise PebenchError(
            f"{path}:{line}: not valid {encoding} (byte {exc.start}); convert the file or set "
            f"--task.encoding to its encoding (e.g. latin-1)"
        ) from None


def split_text(text: str, train_fraction: float) -> dict[str, str]:
    """First ``train_fraction`` of the characters for training, the rest for validation."""
    if not 0 < train_fraction < 1:
        raise PebenchError(f"train_fraction must be in (0, 1), got {train_fraction}")
    cut = int(len(text) * train_fraction)
    return {"train": text[:cut], "validation": text[cut:]}


def hub_text(name: str, config: str | None, column: str) -> dict[str, str]:
    """The ``train`` and ``validation`` splits of a hub dataset, ``column`` joined by newlines."""
    splits = {}
    for split in ("train", "validation"):
        data = load_hub_split(name, config, split)
        if column not in data.column_names:
            raise PebenchError(
                f"hub dataset {name} has no column {column!r} (it has "
                f"{', '.join(data.column_names)}); set --task.text_column"
            )
        splits[split] = "\n".join(data[column])
    return splits


class CharTokenizer:
    """Characters of the training split, sorted, plus ``<unk>`` (id 0) for anything else."""

    def __init__(self, symbols: list[str]) -> None:
        self.symbols = [UNK, *symbols]
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> Tensor:
        return torch.tensor([self.index.get(c, 0) for c in text], dtype=torch.long)

    def decode(self, ids: Tensor) -> str:
        return "".join(self.symbols[i] for i in ids.tolist())

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"tokenizer": "char", "symbols": self.symbols[1:]}) + "\n")


class ByteTokenizer:
    """UTF-8 bytes: a fixed vocabulary of 256 ids, nothing learned from the data."""

    vocab_size = 256

    def encode(self, text: str) -> Tensor:
        return torch.tensor(list(text.encode("utf-8")), dtype=torch.long)

    def decode(self, ids: Tensor) -> str:
        return bytes(ids.tolist()).decode("utf-8", errors="replace")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"tokenizer": "byte"}) + "\n")


def build_tokenizer(kind: Tokenizer, train_text: str) -> CharTokenizer | ByteTokenizer:
    if kind == "char":
        return CharTokenizer.from_text(train_text)
    if kind == "byte":
        return ByteTokenizer()
    raise PebenchError(f"tokenizer must be 'char' or 'byte', got {kind!r}")
