"""The argument parser of every ``pebench`` command: one spelling of long options.

Options are written with dashes (``--output-dir``, ``--model.d-model``) in help, README and
docs; the configuration keys behind them keep their underscores (``d_model`` in YAML). Both
spellings are accepted on the command line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from jsonargparse import ArgumentParser

_LONG_OPTION = re.compile(r"(?<![\w-])--[A-Za-z][\w.]*")


def dashed(text: str) -> str:
    """``text`` with every long option's underscores written as dashes."""
    return _LONG_OPTION.sub(lambda m: m.group().replace("_", "-"), text)


def undashed(argv: Sequence[str]) -> list[str]:
    """Command-line arguments with long options in the parser's underscore spelling
    (``--model.d-model=64`` → ``--model.d_model=64``); values are left alone."""
    out = []
    for arg in argv:
        if arg.startswith("--"):
            name, sep, value = arg.partition("=")
            arg = "--" + name[2:].replace("-", "_") + sep + value
        out.append(arg)
    return out


class PebenchParser(ArgumentParser):
    """A jsonargparse parser whose help and usage show long options with dashes."""

    def format_help(self) -> str:
        return dashed(super().format_help())

    def format_usage(self) -> str:
        return dashed(super().format_usage())
