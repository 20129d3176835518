"""Positional encodings: the base class and the registry of built-in encodings."""

from __future__ import annotations

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.registry import registered, resolve


def available() -> dict[str, type[PositionalEncoding]]:
    """Every registered encoding by name (built-ins plus imported user subclasses)."""
    return registered(PositionalEncoding, __name__)


def get(spec: str) -> type[PositionalEncoding]:
    """The encoding class for a registered name or a dotted path ``package.module.Class``."""
    return resolve(PositionalEncoding, __name__, spec, "encoding")


__all__ = ["AttentionMask", "ModelDims", "PositionalEncoding", "available", "get"]
