"""What ``pebench list`` shows: the built-in encodings and tasks with one-line descriptions,
read from their source files with :mod:`ast`, so listing them imports neither torch nor
Lightning (seconds of start-up). Plug-ins named in ``$PEBENCH_PLUGINS`` are imported, since
their classes live elsewhere, and listed too.
"""

from __future__ import annotations

import ast
import functools
import os
from pathlib import Path

from pebench.registry import PLUGINS_ENV

PACKAGE_DIR = Path(__file__).parent


def first_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph on one line, whole sentences, reST quotes dropped."""
    text = (doc or "").strip().split("\n\n")[0]
    return " ".join(text.replace("``", "").split())


def _string_attr(node: ast.ClassDef, attr: str) -> str | None:
    for stmt in node.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
        value = getattr(stmt, "value", None)
        is_string = isinstance(value, ast.Constant) and isinstance(value.value, str)
        for target in targets:
            if isinstance(target, ast.Name) and target.id == attr and is_string:
                return value.value
    return None


def built_in(subpackage: str) -> dict[str, str]:
    """{registered name: description} for classes under ``pebench/<subpackage>/`` that set
    ``name``; the description is ``description`` when set, else the docstring's first
    paragraph."""
    found: dict[str, str] = {}
    for path in sorted((PACKAGE_DIR / subpackage).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            name = _string_attr(node, "name")
            if name is not None:
                described = _string_attr(node, "description")
                found[name] = described or first_paragraph(ast.get_docstring(node))
    return found


def listing() -> tuple[dict[str, str], dict[str, str]]:
    """(encodings, tasks) by name with descriptions; plug-ins imported only when named."""
    encodings, tasks = built_in("encodings"), built_in("tasks")
    if os.environ.get(PLUGINS_ENV, "").strip():
        from pebench import encodings as encoding_registry
        from pebench import tasks as task_registry

        for table, registry in ((encodings, encoding_registry), (tasks, task_registry)):
            for name, cls in registry.available().items():
                if name not in table:
                    description = getattr(cls, "description", "") or ""
                    table[name] = description or first_paragraph(cls.__doc__)
    return dict(sorted(encodings.items())), dict(sorted(tasks.items()))


@functools.cache
def task_monitors() -> dict[str, tuple[str | None, str]]:
    """{registered name: (monitor, monitor direction)} of the built-in tasks, read from their
    sources like :func:`built_in` (attributes a class inherits from another class of
    ``pebench/tasks/`` are followed), so a leaderboard knows each task's metric without
    importing Lightning."""
    classes = _classes("tasks")

    def inherited(cls: str, attr: str) -> str | None:
        bases, node = classes[cls]
        value = _string_attr(node, attr)
        for base in bases:
            if value is None and base in classes:
                value = inherited(base, attr)
        return value

    return {
        name: (inherited(cls, "monitor"), inherited(cls, "monitor_direction") or "maximize")
        for cls, (_, node) in classes.items()
        if (name := _string_attr(node, "name")) is not None
    }


@functools.cache
def _classes(subpackage: str) -> dict[str, tuple[list[str], ast.ClassDef]]:
    """Every class of ``pebench/<subpackage>/`` by class name, with its base class names."""
    classes = {}
    for path in sorted((PACKAGE_DIR / subpackage).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = ([b.id for b in node.bases if isinstance(b, ast.Name)], node)
    return classes


def options(subpackage: str, name: str) -> list[str] | None:
    """The constructor options of the built-in plug-in registered as ``name`` (its
    ``__init__`` arguments after ``self`` and ``dims``, inherited from a base class of the
    package when it has none), read from the sources; None when they cannot be known
    without importing it (not built in, or a constructor taking ``*args``/``**kwargs``)."""
    classes = _classes(subpackage)
    found = [c for c, (_, node) in classes.items() if _string_attr(node, "name") == name]
    todo = found[:1]
    while todo:
        bases, node = classes[todo.pop()]
        init = next(
            (s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"),
            None,
        )
        if init is not None:
            if init.args.vararg or init.args.kwarg:
                return None
            args = init.args
            names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
            return [n for n in names if n not in ("self", "dims")]
        todo += [b for b in bases if b in classes][:1]
    return None
