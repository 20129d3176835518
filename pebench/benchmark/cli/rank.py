"""``pebench rank``: one encoding against a reference leaderboard."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.benchmark.cli.arguments import (
    expanded,
    option_value,
    parse_simple,
    simple_parser,
    wandb_option,
)
from pebench.errors import PebenchError


def cmd_rank(argv: Sequence[str], console: Console) -> list[Any]:
    parser = simple_parser(
        "rank",
        "Rank one encoding against a reference leaderboard: run the reference's protocol for "
        "it alone, then write the leaderboard with its row inserted and a summary. Encoding "
        "options as in `pebench train`: --encoding.NAME VALUE.",
    )
    parser.add_argument("encoding", type=str, help="a registered name or a dotted class path")
    parser.add_argument(
        "--reference", type=str, default="results/reference",
        help="a finished reference sweep's directory, e.g. results/reference-quarter",
    )  # fmt: skip
    parser.add_argument(
        "--scale", type=str | None, default=None, help="must be the reference's (checked)"
    )
    parser.add_argument("--label", type=str | None, default=None, help="the new row's name")
    parser.add_argument(
        "--output_dir", type=str | None, default=None, help="default runs/rank/LABEL-vs-SWEEP"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    parser.add_argument(
        "--gpus", type=str | None, default=None, help="one worker per id, as in pebench sweep"
    )
    wandb_option(parser)
    own, options = [], {}
    tokens = expanded(argv)
    i = 0
    while i < len(tokens):
        if tokens[i].startswith("--encoding."):
            if i + 1 >= len(tokens):
                raise PebenchError(f"{tokens[i]} needs a value (see `pebench rank --help`)")
            options[tokens[i].removeprefix("--encoding.")] = option_value(tokens[i + 1])
            i += 2
        else:
            own.append(tokens[i])
            i += 1
    cfg = parse_simple(parser, own)
    if os.getcwd() not in sys.path:  # a dotted path may name a module of this directory
        sys.path.insert(0, os.getcwd())
    from pebench.benchmark.rank import run_rank

    run_rank(
        cfg.encoding, options, Path(cfg.reference), cfg.scale,
        Path(cfg.output_dir) if cfg.output_dir else None, cfg.workers, cfg.gpus, cfg.wandb,
        console, cfg.label,
    )  # fmt: skip
    return []
