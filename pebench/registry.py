"""Find pebench plug-ins (encodings, tasks) by registered name or by dotted import path.

A plug-in is a subclass of a base class that sets the class attribute ``name``. Built-in
plug-ins live one per module in a package (or one of its subpackages), and every module is
imported on discovery, so adding a file is enough to register a new one; a user's class
elsewhere is reached with its dotted path ``package.module.ClassName``. A built-in's dotted
path from before it moved within its package (in an older run's ``config.yaml``) still
resolves, by its class name.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pkgutil
from typing import TypeVar

from pebench.errors import PebenchError

T = TypeVar("T", bound=type)


def _import_package_modules(package: str) -> None:
    """Import every module of ``package`` and of its subpackages (tasks are grouped by kind)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)


def _subclasses(base: type) -> list[type]:
    seen: list[type] = []
    stack = list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen


PLUGINS_ENV = "PEBENCH_PLUGINS"


def _import_plugins() -> None:
    """Import the user modules named in ``$PEBENCH_PLUGINS`` (comma-separated)."""
    for name in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise PebenchError(
                f"cannot import plug-in module {name!r} named in {PLUGINS_ENV}: {exc}; "
                f"fix the module name or its PYTHONPATH"
            ) from exc


def registered(base: T, package: str) -> dict[str, T]:
    """Map every named, concrete subclass of ``base``: built-ins from ``package``, modules in
    ``$PEBENCH_PLUGINS`` and any other imported subclass."""
    _import_package_modules(package)
    _import_plugins()
    found: dict[str, T] = {}
    for cls in _subclasses(base):
        name = cls.__dict__.get("name")
        if not isinstance(name, str) or inspect.isabstract(cls):
            continue
        if name in found and found[name] is not cls:
            raise PebenchError(
                f"two classes are registered as {name!r}: {dotted_path(found[name])} and "
                f"{dotted_path(cls)}; give one of them another `name`"
            )
        found[name] = cls
    return dict(sorted(found.items()))


def dotted_path(cls: type) -> str:
    """The import path of a class, ``package.module.ClassName``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def unknown_name(kind: str, spec: str, known: list[str]) -> PebenchError:
    """The error for a plug-in name nothing registers, with the closest known name."""
    close = difflib.get_close_matches(spec, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return PebenchError(
        f"unknown {kind} {spec!r}{hint} Valid {kind}s: {', '.join(known)} "
        f"(or a dotted path package.module.ClassName)"
    )


def _moved(known: dict[str, T], package: str, spec: str) -> T | None:
    """The built-in that ``spec``, a dotted path inside ``package`` whose module no longer
    exists (``pebench.tasks.copy.Copy`` before tasks were grouped by kind), names: the one
    of that class name in a module of that name; None when there is none."""
    if not spec.startswith(package + "."):
        return None
    module, _, attr = spec.rpartition(".")
    found = [
        cls for cls in known.values()
        if cls.__qualname__ == attr and cls.__module__.endswith("." + module.rpartition(".")[2])
    ]  # fmt: skip
    return found[0] if len(found) == 1 else None


def resolve(base: T, package: str, spec: str, kind: str) -> T:
    """Return the subclass of ``base`` named ``spec`` (a registered name or a dotted path)."""
    known = registered(base, package)
    if spec in known:
        return known[spec]
    if "." not in spec:
        raise unknown_name(kind, spec, list(known))
    module_name, _, attr = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if moved := _moved(known, package, spec):
            return moved
        raise PebenchError(
            f"cannot import module {module_name!r} for {kind} {spec!r}: {exc}; "
            f"check the dotted path and that the module is on PYTHONPATH"
        ) from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise PebenchError(f"module {module_name!r} has no class {attr!r} (from {kind} {spec!r})")
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PebenchError(
            f"{spec!r} is not a {kind}: it must be a subclass of {dotted_path(base)}"
        )
    return cls
