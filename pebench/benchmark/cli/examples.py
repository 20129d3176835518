"""``pebench examples TASK``: what a task's data looks like, as text or JSON lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from pebench.benchmark.cli.arguments import parse_simple, preprocess
from pebench.errors import PebenchError

SPLITS = ("train", "validation", "test")


def cmd_examples(argv: Sequence[str], console: Console) -> list[Any]:
    from jsonargparse import ActionYesNo

    from pebench.benchmark.run.parser import PebenchParser
    from pebench.tasks.base import Task

    if not argv or argv[0].startswith("-"):
        raise PebenchError("give a task: pebench examples TASK [--task.OPTION VALUE ...]")
    parser = PebenchParser(
        prog="pebench examples",
        description="Show a task's examples in its own symbols (no padding, separator or "
        "tape tokens): one per line as text, or JSON lines {input, target, length}.",
        exit_on_error=False,
    )
    parser.add_argument("--task", type=Task, required=True, help="task name or dotted path")
    parser.add_argument("--split", type=str, default="train", help="train, validation or test")
    parser.add_argument("--length", type=int | None, default=None, help="only this length")
    parser.add_argument("--count", type=int | None, default=5, help="how many (default 5)")
    parser.add_argument(
        "--all", action=ActionYesNo, default=False, help="a finite split, whole"
    )
    parser.add_argument("--seed", type=int, default=0, help="which examples are drawn")
    parser.add_argument("--format", type=str, default="text", help="text or jsonl")
    cfg = parse_simple(parser, preprocess(["--task", *argv]))
    if cfg.split not in SPLITS:
        raise PebenchError(f"--split takes one of {', '.join(SPLITS)}, got {cfg.split!r}")
    if cfg.format not in ("text", "jsonl"):
        raise PebenchError(f"--format takes text or jsonl, got {cfg.format!r}")
    if cfg.count is not None and cfg.count < 1:
        raise PebenchError(f"--count must be at least 1, got {cfg.count}")
    if cfg.length is not None and cfg.length < 1:
        raise PebenchError(f"--length must be at least 1, got {cfg.length}")
    task = parser.instantiate_classes(cfg).task
    shown = task.examples(cfg.split, cfg.length, None if cfg.all else cfg.count, cfg.seed)
    for example in shown:
        if cfg.format == "jsonl":
            print(json.dumps(example))
        else:
            print(f"{' '.join(example['input'])}  →  {' '.join(example['target'])}")
    return []
