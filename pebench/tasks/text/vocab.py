"""Word- or character-level vocabularies built from the training split only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

PAD, UNK, SEP = "<pad>", "<unk>", "<sep>"
Level = Literal["word", "char"]


class Vocabulary:
    """Token ↔ id map with ``<pad>`` = 0, ``<unk>`` = 1 and ``<sep>`` (between words at the
    character level) = 2, then tokens by descending training frequency."""

    def __init__(self, tokens: list[str], level: Level = "word", lowercase: bool = False) -> None:
        self.tokens, self.level, self.lowercase = tokens, level, lowercase
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(
        cls,
        sentences: Iterable[list[str]],
        level: Level = "word",
        lowercase: bool = False,
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        counts: Counter[str] = Counter()
        for words in sentences:
            for word in words:
                word = word.lower() if lowercase else word
                counts.update(word if level == "char" else [word])
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            ranked = ranked[: max(0, max_size - 3)]
        return cls([PAD, UNK, SEP, *ranked], level, lowercase)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, words: list[str]) -> tuple[list[int], list[int]]:
        """Token ids and, for each word, the index of its first token."""
        ids: list[int] = []
        starts: list[int] = []
        unk = self.index[UNK]
        for n, word in enumerate(words):
            word = word.lower() if self.lowercase else word
            if self.level == "char":
                if n:
                    ids.append(self.index[SEP])
                starts.append(len(ids))
                ids.extend(self.index.get(ch, unk) for ch in word)
            else:
                starts.append(len(ids))
                ids.append(self.index.get(word, unk))
        return ids, starts

    def save(self, path: Path) -> None:
        data = {"level": self.level, "lowercase": self.lowercase, "tokens": self.tokens}
        path.write_text(json.dumps(data, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        data = json.loads(Path(path).read_text())
        return cls(data["tokens"], data["level"], data["lowercase"])
