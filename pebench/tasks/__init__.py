"""Tasks: the task interface and the registry of built-in tasks."""

from __future__ import annotations

from pebench.registry import registered, resolve
from pebench.tasks.base import Task


def available() -> dict[str, type[Task]]:
    """Every registered task by name (built-ins plus imported user subclasses)."""
    return registered(Task, __name__)


def get(spec: str) -> type[Task]:
    """The task class for a registered name or a dotted path ``package.module.Class``."""
    return resolve(Task, __name__, spec, "task")


__all__ = ["Task", "available", "get"]
