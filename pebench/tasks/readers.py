"""Readers for local data files: CoNLL columns (NER) and CSV/TSV/JSONL (classification).

Every malformed input is a :class:`PebenchError` naming the file and line; nothing is
silently dropped.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pebench.errors import PebenchError

Sentence = tuple[list[str], list[str]]
#: a sentence with the file line of each token
NumberedSentence = tuple[list[str], list[str], list[int]]


def _open(path: Path) -> str:
    if not path.is_file():
        raise PebenchError(
            f"data file {path} does not exist; check the path or set PEBENCH_DATA_DIR / "
            f"--task.data_dir"
        )
    return path.read_text(encoding="utf-8-sig")


def read_conll(path: Path, token_column: int = 0, tag_column: int = -1) -> list[Sentence]:
    """Sentences of a CoNLL column file: whitespace- or tab-separated columns, blank lines
    between sentences, ``-DOCSTART-`` lines skipped, CRLF and trailing whitespace tolerated."""
    return [(t, g) for t, g, _ in read_conll_numbered(path, token_column, tag_column)]


def read_conll_numbered(
    path: Path, token_column: int = 0, tag_column: int = -1
) -> list[NumberedSentence]:
    """Like :func:`read_conll`, with the file line of every token (for file:line errors)."""
    sentences: list[NumberedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    width = None
    for number, raw in enumerate(_open(path).splitlines(), start=1):
        line = raw.strip()
        if line.startswith("-DOCSTART-"):
            continue
        if not line:
            if tokens:
                sentences.append((tokens, tags, lines))
                tokens, tags, lines = [], [], []
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        columns = [c.strip() for c in columns]
        if width is None:
            width = len(columns)
        if len(columns) != width or len(columns) < 2:
            raise PebenchError(
                f"{path}:{number}: expected {max(width, 2)} columns (token ... tag), found "
                f"{len(columns)}: {line!r}"
            )
        try:
            tokens.append(columns[token_column])
            tags.append(columns[tag_column])
            lines.append(number)
        except IndexError:
            raise PebenchError(
                f"{path}:{number}: no column {token_column} or {tag_column} in a row of "
                f"{len(columns)} columns"
            ) from None
    if tokens:
        sentences.append((tokens, tags, lines))
    if not sentences:
        raise PebenchError(f"{path}: no sentences found (the split is empty)")
    return sentences


def read_table(
    path: Path, text_column: str | int, label_column: str | int, header: bool = True
) -> list[tuple[str, str]]:
    """(text, label) rows of a CSV, TSV or JSONL file, chosen by extension. Columns are names
    (with a header, or JSONL keys) or 0-based indices (without a header)."""
    text = _open(path)
    suffix = path.suffix.lower()
    rows: list[tuple[str, str]] = []
    if suffix in (".jsonl", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PebenchError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            rows.append(_pick(record, text_column, label_column, path, number))
    elif suffix in (".csv", ".tsv"):
        reader = csv.reader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ",")
        names: list[str] | None = None
        for number, fields in enumerate(reader, start=1):
            if not fields:
                continue
            if header and names is None:
                names = fields
                continue
            if names is not None and len(fields) != len(names):
                raise PebenchError(
                    f"{path}:{number}: expected {len(names)} columns, found {len(fields)}"
                )
            record = dict(zip(names, fields, strict=True)) if names is not None else fields
            rows.append(_pick(record, text_column, label_column, path, number))
    else:
        raise PebenchError(f"{path}: unknown file type {suffix!r}; use .csv, .tsv or .jsonl")
    if not rows:
        raise PebenchError(f"{path}: no rows found (the split is empty)")
    return rows


def _pick(record, text_column, label_column, path: Path, number: int) -> tuple[str, str]:
    values = []
    for role, column in (("text", text_column), ("label", label_column)):
        try:
            values.append(str(record[column]))
        except (KeyError, IndexError, TypeError):
            raise PebenchError(
                f"{path}:{number}: missing {role} column {column!r}; set --task.{role}_column"
            ) from None
    return values[0], values[1]
