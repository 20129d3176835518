"""``pebench list``: the registered encodings and tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console

from pebench.errors import PebenchError


def cmd_list(argv: Sequence[str], console: Console) -> list[Any]:
    from rich.markup import escape
    from rich.table import Table

    from pebench.catalog import listing

    if argv:
        raise PebenchError(f"`pebench list` takes no arguments, got {' '.join(argv)}")
    encodings, tasks = listing()
    tables = []
    titles = ("Encodings (--encoding NAME)", "Tasks (--task NAME)")
    for title, entries in zip(titles, (encodings, tasks), strict=True):
        table = Table(title=title)
        table.add_column("name", style="bold")
        table.add_column("description")
        for name, description in entries.items():
            table.add_row(name, escape(description))
        tables.append(table)
    console.print(*tables)
    return []
