"""Tasks: the task interface and the registry of built-in tasks.

Tasks are grouped by kind in subpackages (``synthetic``, ``text``, ``lm``). This package
imports no task (nor torch) until asked: :mod:`pebench.tasks.columns` serves readers of
finished runs that never train.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pebench.tasks.base import Task


def available() -> dict[str, type[Task]]:
    """Every registered task by name (built-ins plus imported user subclasses)."""
    from pebench.registry import registered
    from pebench.tasks.base import Task

    return registered(Task, __name__)


def get(spec: str) -> type[Task]:
    """The task class for a registered name or a dotted path ``package.module.Class``."""
    from pebench.registry import resolve
    from pebench.tasks.base import Task

    return resolve(Task, __name__, spec, "task")


def __getattr__(name: str) -> Any:
    if name == "Task":
        from pebench.tasks.base import Task

        return Task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Task", "available", "get"]
