"""Shared machinery of tasks on real text (NER, classification).

Data comes from local files or a Hugging Face hub dataset; a vocabulary is built from the
training split only; the encoded splits are cached on disk with ``datasets.save_to_disk``
under a key that covers every input and option that changes them, so the trials of a sweep
do not re-tokenize. Batches are padded on the right with a padding mask.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from abc import abstractmethod
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader

from pebench.data_files import data_path, missing_file_message
from pebench.errors import PebenchError
from pebench.tasks.base import Batch, Model, Task
from pebench.tasks.text.vocab import Level, Vocabulary

SPLITS = ("train", "validation", "test")
CACHE_DIR_ENV = "PEBENCH_CACHE_DIR"
IGNORE = -100


def default_cache_dir() -> Path:
    """``$PEBENCH_CACHE_DIR/prepared``, else ``.cache/prepared`` under the working directory."""
    return Path(os.environ.get(CACHE_DIR_ENV, ".cache")) / "prepared"


class TextDataModule(LightningDataModule):
    """Shuffled training batches (seeded) and ordered evaluation batches, padded per batch."""

    def __init__(self, task: TextTask, batch_size: int, seed: int) -> None:
        super().__init__()
        self.task, self.batch_size, self.seed = task, batch_size, seed

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        data = self.task.prepared()[split]
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            data,
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=gen,
            collate_fn=self.task.collate,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


class TextTask(Task):
    """Base of real-text tasks; subclasses read raw examples and encode labels."""

    def __init__(
        self,
        train_file: str | None = None,
        validation_file: str | None = None,
        test_file: str | None = None,
        data_dir: str | None = None,
        hub_dataset: str | None = None,
        hub_config: str | None = None,
        level: Level = "word",
        lowercase: bool = False,
        min_freq: int = 1,
        max_vocab: int | None = 30000,
        max_length: int | None = 128,
        length_buckets: list[int] | None = None,
        causal: bool = False,
        cache_dir: str | None = None,
        vocab_file: str | None = None,
        encoding: str = "utf-8",
    ) -> None:
        """
        Args:
            train_file: local training file (relative paths are under ``data_dir``).
            validation_file: local validation file.
            test_file: local test file (evaluated once at the end, never used for selection).
            data_dir: base of relative file paths; default ``$PEBENCH_DATA_DIR`` or
                ``../shared/data``.
            hub_dataset: a Hugging Face hub dataset name, used when no local files are given.
            hub_config: the hub dataset's configuration (e.g. a language for ``wikiann``).
            level: ``word`` or ``char`` tokens.
            lowercase: lowercase text before building and applying the vocabulary.
            min_freq: minimum training-split frequency for a token to enter the vocabulary.
            max_vocab: vocabulary size cap (special tokens included).
            max_length: truncate inputs to this many tokens (None: no truncation).
            length_buckets: upper edges of sentence-length buckets for the metrics.
            causal: use a causal decoder instead of a bidirectional encoder.
            cache_dir: where prepared datasets are cached; default
                ``$PEBENCH_CACHE_DIR/prepared`` or ``.cache/prepared``.
            vocab_file: reuse a saved vocabulary (``vocab.json`` of an earlier run).
            encoding: text encoding of local files (UTF-8 unless told otherwise).
        """
        if level not in ("word", "char"):
            raise PebenchError(f"level must be 'word' or 'char', got {level!r}")
        files = {"train": train_file, "validation": validation_file, "test": test_file}
        if any(files.values()) and not all(files.values()):
            missing = [k for k, v in files.items() if not v]
            raise PebenchError(
                f"give all three local files or none: missing --task.{missing[0]}_file"
            )
        if not any(files.values()) and not hub_dataset:
            raise PebenchError(
                "no data: give --task.train_file/validation_file/test_file or --task.hub_dataset "
                "(presets are in configs/tasks/)"
            )
        self.files = {k: (data_path(v, data_dir) if v else None) for k, v in files.items()}
        self.hub_dataset, self.hub_config = hub_dataset, hub_config
        self.level, self.lowercase, self.min_freq = level, lowercase, min_freq
        self.max_vocab, self.max_length = max_vocab, max_length
        self.length_buckets = sorted(length_buckets or [10, 20, 40])
        self._causal = causal
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.vocab_file = vocab_file
        self.encoding = encoding
        self._prepared: dict[str, Any] | None = None
        self.vocab: Vocabulary | None = None
        self.labels: list[str] = []

    # --- what subclasses define -------------------------------------------------------

    @abstractmethod
    def read_file(self, path: Path) -> list[tuple[Any, ...]]:
        """(words, raw label) examples of one local file, optionally with a third element
        locating the example (``file:line``, or one per word) for error messages."""

    @abstractmethod
    def read_hub(self, split: str) -> list[tuple[list[str], Any]]:
        """(words, raw label) examples of one hub split."""

    @abstractmethod
    def label_set(self, train: list[tuple[list[str], Any]]) -> list[str]:
        """The label names, read from the training data."""

    @abstractmethod
    def encode_label(self, raw: Any, where: Any) -> Any:
        """Label ids for one example (``where`` names it in errors)."""

    def options_key(self) -> dict[str, Any]:
        """Options of the subclass that change the prepared data (part of the cache key)."""
        return {}

    # --- shared -----------------------------------------------------------------------

    @property
    def causal(self) -> bool:
        return self._causal

    @property
    def vocab_size(self) -> int:
        self.prepared()
        assert self.vocab is not None
        return len(self.vocab)

    @property
    def has_test(self) -> bool:
        return True

    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        self.prepared()
        return TextDataModule(self, batch_size, seed)

    def _source_identity(self) -> dict[str, Any]:
        if self.files["train"] is not None:
            ident = {}
            for split, path in self.files.items():
                if not path.is_file():
                    raise PebenchError(missing_file_message(path, f"{split}_file"))
                stat = path.stat()
                ident[split] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
            return ident
        return {"hub": self.hub_dataset, "config": self.hub_config}

    def cache_key(self) -> str:
        """Hash of everything that changes the prepared data."""
        key = {
            "task": type(self).__qualname__,
            "format": 1,
            "source": self._source_identity(),
            "level": self.level,
            "lowercase": self.lowercase,
            "min_freq": self.min_freq,
            "max_vocab": self.max_vocab,
            "vocab_file": str(Path(self.vocab_file).resolve()) if self.vocab_file else None,
            "encoding": self.encoding,
            "reader": 2,  # the file rules of pebench.tasks.text.readers (line ends, quoting, nulls)
            **self.options_key(),
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]

    def hub_split(self, split: str, columns: dict[str, str]) -> Any:
        """One split of ``hub_dataset``, checked to have ``columns`` ({option: column name})."""
        from pebench.tasks.hub import load_hub_split

        data = load_hub_split(self.hub_dataset, self.hub_config, split)
        for option, column in columns.items():
            if column not in data.column_names:
                raise PebenchError(
                    f"hub dataset {self.hub_dataset} has no column {column!r} (columns: "
                    f"{', '.join(data.column_names)}); set --task.{option}"
                )
        return data

    def _read(self, split: str) -> list[tuple[list[str], Any]]:
        path = self.files[split]
        return self.read_file(path) if path is not None else self.read_hub(split)

    def prepared(self) -> dict[str, Any]:
        """The encoded splits (``datasets.Dataset`` each), from the cache when possible."""
        if self._prepared is not None:
            return self._prepared
        import datasets

        datasets.disable_progress_bars()
        folder = self.cache_dir / self.cache_key()
        if (folder / "meta.json").exists():
            meta = json.loads((folder / "meta.json").read_text())
            self.labels = meta["labels"]
            self.vocab = Vocabulary.load(folder / "vocab.json")
            self._prepared = {s: datasets.load_from_disk(str(folder / s)) for s in SPLITS}
            return self._prepared
        raw = {split: self._read(split) for split in SPLITS}
        for split, examples in raw.items():
            if not examples:
                raise PebenchError(f"the {split} split is empty")
        self.labels = self.label_set(raw["train"])
        self.vocab = (
            Vocabulary.load(Path(self.vocab_file))
            if self.vocab_file
            else Vocabulary.build(
                (example[0] for example in raw["train"]),
                self.level,
                self.lowercase,
                self.min_freq,
                self.max_vocab,
            )
        )
        encoded = {}
        for split, examples in raw.items():
            columns: dict[str, list] = {"ids": [], "starts": [], "label": [], "n_words": []}
            for n, (words, label, *located) in enumerate(examples):
                ids, starts = self.vocab.encode(words)
                columns["ids"].append(ids)
                columns["starts"].append(starts)
                where = located[0] if located else f"{split} example {n + 1}"
                columns["label"].append(self.encode_label(label, where))
                columns["n_words"].append(len(words))
            encoded[split] = datasets.Dataset.from_dict(columns)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        for split, data in encoded.items():
            data.save_to_disk(str(tmp / split))
        self.vocab.save(tmp / "vocab.json")
        (tmp / "meta.json").write_text(json.dumps({"labels": self.labels}))
        if folder.exists():  # another process prepared the same data meanwhile
            shutil.rmtree(tmp)
        else:
            tmp.rename(folder)  # atomic: concurrent trials never see a half-written cache
        self._prepared = {s: datasets.load_from_disk(str(folder / s)) for s in SPLITS}
        return self._prepared

    @abstractmethod
    def predict(self, model: Model, batch: Batch) -> list[Any]:
        """The model's prediction for every example of an evaluation batch."""

    @abstractmethod
    def prediction_rows(self, example: tuple[Any, ...], predicted: Any) -> list[list[str]]:
        """Rows of the predictions file for one example and its prediction."""

    #: ``predictions_<split>.<suffix>`` and its header row (None: no header)
    prediction_format: tuple[str, list[str] | None] = ("csv", None)

    @torch.no_grad()
    def write_predictions(self, model: Model, output_dir: Path) -> list[Path]:
        """``predictions_validation`` and ``predictions_test`` files, one entry per example
        in file order, with the gold and the predicted labels."""
        import csv

        device = next(model.parameters()).device
        suffix, header = self.prediction_format
        written = []
        for split in ("validation", "test"):
            raw = self._read(split)
            loader = TextDataModule(self, 64, 0)._loader(split, shuffle=False)
            predicted: list[Any] = []
            for batch in loader:
                predicted += self.predict(model, {k: v.to(device) for k, v in batch.items()})
            path = output_dir / f"predictions_{split}.{suffix}"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(
                    handle, delimiter="," if suffix == "csv" else "\t", lineterminator="\n"
                )
                if header:
                    writer.writerow(header)
                for example, guess in zip(raw, predicted, strict=True):
                    writer.writerows(self.prediction_rows(example, guess))
            written.append(path)
        return written

    def data_report(self) -> dict[str, Any] | None:
        """Examples and tokens per split that ``max_length`` cuts off (silent otherwise)."""
        if not self.max_length:
            return None
        report = {}
        for split, data in self.prepared().items():
            over = [len(ids) - self.max_length for ids in data["ids"] if len(ids) > self.max_length]
            report[split] = {"examples": len(over), "tokens": sum(over), "of": data.num_rows}
        return {"max_length": self.max_length, "truncated": report}

    def truncate(self, ids: list[int]) -> list[int]:
        return ids[: self.max_length] if self.max_length else ids

    def pad(self, sequences: list[list[int]], value: int) -> Tensor:
        width = max(1, max(len(s) for s in sequences))
        out = torch.full((len(sequences), width), value, dtype=torch.long)
        for i, seq in enumerate(sequences):
            out[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        return out

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, Tensor]:
        ids = [self.truncate(r["ids"]) or [1] for r in rows]  # an empty input becomes <unk>
        lengths = torch.tensor([len(i) for i in ids])
        tokens = self.pad(ids, 0)
        return {
            "tokens": tokens,
            "padding_mask": torch.arange(tokens.shape[1])[None] >= lengths[:, None],
            "n_words": torch.tensor([r["n_words"] for r in rows]),
            **self.collate_labels(rows, ids),
        }

    @abstractmethod
    def collate_labels(self, rows: list[dict[str, Any]], ids: list[list[int]]) -> dict[str, Tensor]:
        """Label tensors of a batch."""

    def count_tokens(self, batch: Batch) -> int:
        return int((~batch["padding_mask"]).sum())

    def logits(self, model: Model, batch: Batch) -> Tensor:
        return model(batch["tokens"], padding_mask=batch["padding_mask"])

    def save_artifacts(self, output_dir: Path) -> None:
        """The vocabulary and label set, so evaluation reuses them (``--task.vocab_file``)."""
        self.prepared()
        assert self.vocab is not None
        self.vocab.save(output_dir / "vocab.json")
        (output_dir / "labels.json").write_text(json.dumps(self.labels))
