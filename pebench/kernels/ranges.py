"""Index tensors known to hold a range lo, lo+1, .., hi (the default positions, the offsets
they form), with the bounds remembered on the host.

Relative encodings size their offset tables, and absolute ones check their positions, from
the bounds of the positions. Reading a bound back from a GPU waits for every kernel queued
before it, once per forward; for a tensor made here the bounds are known without a read.
Other tensors (randomized positions, slices) are read, once.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.weak import WeakIdKeyDictionary

_KNOWN: WeakIdKeyDictionary = WeakIdKeyDictionary()


def remember(values: Tensor, low: int, high: int) -> Tensor:
    """Note that ``values``, flattened, is ``low, low+1, .., high``; returns ``values``."""
    if not torch.compiler.is_compiling():  # a traced tensor is a stand-in: nothing to note
        _KNOWN[values] = (low, high)
    return values


def arange(start: int, stop: int, device: torch.device | str | None = None) -> Tensor:
    """``torch.arange(start, stop)`` with its bounds remembered."""
    return remember(torch.arange(start, stop, device=device), start, stop - 1)


def row(start: int, stop: int, device: torch.device | str | None = None) -> Tensor:
    """``start .. stop − 1`` as one (1, n) row shared by a batch (positions), remembered."""
    values = torch.arange(start, stop, device=device).unsqueeze(0)
    return remember(values, start, stop - 1)


def known(values: Tensor) -> tuple[int, int] | None:
    """The remembered bounds of ``values``, or None when it was not made as a range."""
    if torch.compiler.is_compiling():
        return None
    return _KNOWN.get(values)


def bounds(*tensors: Tensor) -> list[tuple[int, int]]:
    """(min, max) of each tensor: remembered ones without a read, the rest in one read."""
    found = [known(t) for t in tensors]
    unknown = [t for t, b in zip(tensors, found, strict=True) if b is None]
    if unknown:
        read = torch.stack([x for t in unknown for x in (t.min(), t.max())]).tolist()
        pairs = iter(zip(read[::2], read[1::2], strict=True))
        found = [b if b is not None else next(pairs) for b in found]
    return [(int(lo), int(hi)) for lo, hi in found]


def low(values: Tensor) -> int:
    """The smallest value of ``values`` (remembered, or read)."""
    return bounds(values)[0][0]


def joined(first: Tensor, second: Tensor, dim: int = -1) -> Tensor:
    """``first`` and ``second`` concatenated; remembered as one range when they are
    consecutive ranges (a key/value cache's positions and the new tokens')."""
    out = torch.cat([first, second], dim=dim)
    a, b = known(first), known(second)
    if a is not None and b is not None and a[1] + 1 == b[0]:
        remember(out, a[0], b[1])
    return out
