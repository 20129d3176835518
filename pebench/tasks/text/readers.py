"""Readers for local data files: CoNLL columns (NER) and CSV/TSV/JSONL (classification).

The rules, the same for every format: files are decoded as UTF-8 (a byte-order mark is
skipped; another ``encoding`` can be given); a line ends at ``\n`` or ``\r\n`` only (never at
Unicode line or paragraph separators, which may sit inside a token or a JSON string);
CoNLL columns are split on tabs when the line has one, else on ASCII spaces (a no-break
space stays inside its token); CSV follows RFC 4180 quoting (a quoted field may hold
newlines); TSV is literal (no quoting: a ``"`` is text); JSONL rejects ``null`` texts and
labels, and numeric labels compare as numbers (``1`` and ``1.0`` are one class).

Every malformed input is a :class:`PebenchError` naming the file and line; nothing is
silently dropped.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pebench.errors import PebenchError

Sentence = tuple[list[str], list[str]]
#: a sentence with the file line of each token
NumberedSentence = tuple[list[str], list[str], list[int]]
#: (text, label, file line) of a table row
Row = tuple[str, str, int]


def _open(path: Path, encoding: str = "utf-8") -> str:
    if not path.is_file():
        raise PebenchError(
            f"data file {path} does not exist; check the path or set PEBENCH_DATA_DIR / "
            f"--task.data_dir"
        )
    data = path.read_bytes()
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PebenchError(
            f"{path}:{line}: byte 0x{data[exc.start]:02x} is not valid {encoding}; pebench reads "
            f"UTF-8: convert the file (e.g. iconv -f latin1 -t utf-8) or set --task.encoding"
        ) from None
    except LookupError:
        raise PebenchError(
            f"unknown text encoding {encoding!r}; use e.g. utf-8 or latin-1"
        ) from None


def _lines(text: str) -> list[str]:
    """Lines ended by \\n (a trailing \\r dropped); no other character ends a line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_conll(
    path: Path, token_column: int = 0, tag_column: int = -1, encoding: str = "utf-8"
) -> list[Sentence]:
    """Sentences of a CoNLL column file: tab- or space-separated columns, blank lines
    between sentences, ``-DOCSTART-`` lines skipped, CRLF and trailing spaces tolerated."""
    return [(t, g) for t, g, _ in read_conll_numbered(path, token_column, tag_column, encoding)]


def read_conll_numbered(
    path: Path, token_column: int = 0, tag_column: int = -1, encoding: str = "utf-8"
) -> list[NumberedSentence]:
    """Like :func:`read_conll`, with the file line of every token (for file:line errors)."""
    sentences: list[NumberedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    width = None
    for number, raw in enumerate(_lines(_open(path, encoding)), start=1):
        line = raw.strip(" \t")
        if line.startswith("-DOCSTART-"):
            continue
        if not line:
            if tokens:
                sentences.append((tokens, tags, lines))
                tokens, tags, lines = [], [], []
            continue
        if "\t" in line:
            columns = [c.strip(" ") for c in line.split("\t")]
        else:
            columns = [c for c in line.split(" ") if c]
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


Column = str | int


def read_table(
    path: Path,
    text_column: Column | list[Column],
    label_column: Column,
    header: bool = True,
    encoding: str = "utf-8",
    separator: str = " ",
) -> list[Row]:
    """(text, label, line) rows of a CSV, TSV or JSONL file, chosen by extension. Columns
    are names (with a header, or JSONL keys) or 0-based indices (without a header; digits
    given as text, e.g. from the command line, are indices too). Several text columns (a
    title and a body) are joined with ``separator``."""
    text = _open(path, encoding)
    suffix = path.suffix.lower()

    def index(c: Column) -> Column:
        return int(c) if not header and isinstance(c, str) and c.isdigit() else c

    columns = [index(c) for c in (text_column if isinstance(text_column, list) else [text_column])]
    label_column = index(label_column)
    if not columns:
        raise PebenchError("text_column is an empty list; name at least one column")
    rows: list[Row] = []
    if suffix in (".jsonl", ".json"):
        for number, line in enumerate(_lines(text), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PebenchError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            rows.append(_pick(record, columns, label_column, path, number, separator))
    elif suffix in (".csv", ".tsv"):
        for number, fields, names in _records(text, suffix, header):
            if names is not None and len(fields) != len(names):
                raise PebenchError(
                    f"{path}:{number}: expected {len(names)} columns, found {len(fields)}"
                )
            record = dict(zip(names, fields, strict=True)) if names is not None else fields
            rows.append(_pick(record, columns, label_column, path, number, separator))
        if not header:
            _refuse_header_row(rows, path)
    else:
        raise PebenchError(f"{path}: unknown file type {suffix!r}; use .csv, .tsv or .jsonl")
    if not rows:
        raise PebenchError(f"{path}: no rows found (the split is empty)")
    return rows


def _records(text: str, suffix: str, header: bool):
    """(first line, fields, header names or None) of each data record of a CSV/TSV text."""
    if suffix == ".tsv":  # literal: fields split at tabs, quotes are text
        records = [(n, line.split("\t")) for n, line in enumerate(_lines(text), start=1)]
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        records, start = [], 1
        for fields in reader:
            records.append((start, fields))
            start = reader.line_num + 1
    names = None
    for number, fields in records:
        if not fields or fields == [""]:
            continue
        if header and names is None:
            names = fields
            continue
        yield number, fields, names


def _refuse_header_row(rows: list[Row], path: Path) -> None:
    """A header-less read of a file that has a header: the first row's label occurs nowhere
    else while every other label repeats."""
    counts = Counter(label for _, label, _ in rows)
    first = rows[0][1]
    others = [c for label, c in counts.items() if label != first]
    if len(rows) >= 3 and counts[first] == 1 and others and min(others) >= 2:
        raise PebenchError(
            f"{path}:{rows[0][2]}: the first row looks like a header (its label {first!r} "
            f"occurs nowhere else); set --task.header true"
        )


def _label(value: object) -> str:
    """A label as text; numbers compare as numbers (1 and 1.0 are one class)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pick(
    record: Mapping[str, Any] | Sequence[Any],
    text_columns: list[Column],
    label_column: Column,
    path: Path,
    number: int,
    separator: str = " ",
) -> Row:
    values = []
    roles = [("text", c) for c in text_columns] + [("label", label_column)]
    for role, column in roles:
        try:
            value = record[column]
        except (KeyError, IndexError, TypeError):
            if isinstance(record, Mapping) and str(column).isdigit():
                raise PebenchError(
                    f"{path}:{number}: the {role} column {column!r} is a position, but the "
                    f"file is read with its first row as a header; if it has no header, set "
                    f"--task.header false"
                ) from None
            raise PebenchError(
                f"{path}:{number}: missing {role} column {column!r}; set --task.{role}_column"
            ) from None
        if value is None:
            raise PebenchError(
                f"{path}:{number}: the {role} is null; give every row a {role} or remove the row"
            )
        values.append(_label(value) if role == "label" else str(value))
    return separator.join(values[:-1]), values[-1], number
