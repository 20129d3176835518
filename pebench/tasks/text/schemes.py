"""Entity spans from tag sequences in the IOB1, IOB2 and BIOES schemes, with the strict
span rules of the CoNLL evaluation (as ``seqeval``'s strict mode implements them).

A tag is ``O`` or ``P-TYPE`` with prefix P in {B, I, E, S}. Each scheme is a table of
rules: which (previous prefix, current prefix, same/different type) pairs start an entity,
continue it, or validly end it. An entity is kept only if it starts, continues and ends by
those rules, so a malformed prediction (e.g. ``I-PER`` after ``O`` in IOB2) is not
counted as an entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

Scheme = Literal["IOB1", "IOB2", "BIOES"]
SCHEMES: tuple[Scheme, ...] = ("IOB1", "IOB2", "BIOES")
ANY, SAME, DIFF = "any", "same", "diff"

# (previous prefixes, current prefixes, type relation)
Rule = tuple[str, str, str]
RULES: dict[str, dict[str, list[Rule]]] = {
    "IOB1": {
        "prefixes": "IOB",
        "start": [("O", "I", ANY), ("I", "I", DIFF), ("B", "I", ANY), ("IB", "B", SAME)],
        "inside": [("BI", "I", SAME)],
        "end": [
            ("I", "I", DIFF),
            ("I", "OB", ANY),
            ("B", "O", ANY),
            ("B", "I", DIFF),
            ("B", "B", SAME),
        ],
    },
    "IOB2": {
        "prefixes": "IOB",
        "start": [("OBI", "B", ANY)],
        "inside": [("BI", "I", SAME)],
        "end": [("BI", "O", ANY), ("BI", "I", DIFF), ("BI", "B", ANY)],
    },
    "BIOES": {
        "prefixes": "BIOES",
        "start": [("BIOES", "BS", ANY)],
        "inside": [("BI", "IE", SAME)],
        "end": [("SE", "BIOES", ANY)],
    },
}


class Span(NamedTuple):
    """An entity: its type and token range [start, end)."""

    type: str
    start: int
    end: int


def split_tag(tag: str) -> tuple[str, str]:
    """``'B-PER'`` → ``('B', 'PER')``; ``'O'`` → ``('O', '')``."""
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if not sep or len(prefix) != 1 or not kind:
        raise ValueError(f"tag {tag!r} is not 'O' or PREFIX-TYPE")
    return prefix, kind


def _matches(rules: list[Rule], prev: tuple[str, str], cur: tuple[str, str]) -> bool:
    for prev_prefixes, cur_prefixes, relation in rules:
        if prev[0] in prev_prefixes and cur[0] in cur_prefixes:
            same = prev[1] == cur[1]
            if relation == ANY or (relation == SAME) == same:
                return True
    return False


def spans(tags: Sequence[str], scheme: Scheme) -> list[Span]:
    """The strict entity spans of one sentence's tags."""
    rules = RULES[scheme]
    parsed = [split_tag(t) for t in tags] + [("O", "")]
    for tag, (prefix, _) in zip(tags, parsed, strict=False):
        if prefix not in rules["prefixes"]:
            raise ValueError(f"tag {tag!r} has a prefix that {scheme} does not use")
    found: list[Span] = []
    prev, i = ("O", ""), 0
    while i < len(parsed):
        cur = parsed[i]
        if _matches(rules["start"], prev, cur):
            j, last = i + 1, cur
            while j < len(parsed) and _matches(rules["inside"], last, parsed[j]):
                last = parsed[j]
                j += 1
            # the sentinel "O" is never inside, so j < len(parsed)
            if _matches(rules["end"], parsed[j - 1], parsed[j]):
                found.append(Span(cur[1], i, j))
            i = j
        else:
            i += 1
        prev = parsed[i - 1]
    return found


def better_scheme(sentences: Sequence[Sequence[str]], scheme: Scheme) -> tuple[Scheme, int] | None:
    """Another scheme the gold ``sentences`` are valid in and that finds more entities than
    ``scheme`` (IOB2 data read as IOB1 silently loses every entity a ``B-`` opens after
    ``O``), with the index of the first sentence that differs; None if ``scheme`` is best."""
    best: tuple[Scheme, int] | None = None
    for other in SCHEMES:
        if other == scheme or any(scheme_violation(t, other) is not None for t in sentences):
            continue
        counts = [(len(spans(t, scheme)), len(spans(t, other))) for t in sentences]
        if sum(c[1] for c in counts) > sum(c[0] for c in counts):
            first = next(i for i, (mine, theirs) in enumerate(counts) if theirs > mine)
            best = (other, first)
    return best


def scheme_violation(tags: Sequence[str], scheme: Scheme) -> int | None:
    """Index of the first tag that breaks ``scheme`` in gold data, or None.

    A tag breaks the scheme when its prefix is foreign to it or when it continues an entity
    that is not open (IOB2 ``I-X`` after ``O`` or another type; BIOES ``I``/``E`` likewise).
    """
    rules = RULES[scheme]
    prev = ("O", "")
    for i, tag in enumerate(tags):
        try:
            cur = split_tag(tag)
        except ValueError:
            return i
        if cur[0] not in rules["prefixes"]:
            return i
        continues = scheme in ("IOB2", "BIOES") and cur[0] in ("I", "E")
        if continues and not (prev[0] in "BI" and prev[1] == cur[1]):
            return i
        if scheme == "BIOES" and prev[0] in "BI" and cur[0] not in "IE":
            return i - 1
        prev = cur
    if scheme == "BIOES" and prev[0] in "BI":
        return len(tags) - 1
    return None
