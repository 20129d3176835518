"""Where a task's local data files are: a relative path is under ``--task.data_dir``, else
``$PEBENCH_DATA_DIR``, else ``../shared/data`` (the shared datasets beside the project).

Torch-free, so the command line refuses a missing file before the training stack loads.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "PEBENCH_DATA_DIR"
#: task options that name a local data file
FILE_OPTIONS = ("train_file", "validation_file", "test_file", "text_file")


def default_data_dir() -> Path:
    """``$PEBENCH_DATA_DIR``, else ``../shared/data``."""
    return Path(os.environ.get(DATA_DIR_ENV, "../shared/data"))


def data_path(file: str, data_dir: str | None = None) -> Path:
    """The path a task reads for ``file`` (an absolute path stays as it is)."""
    return (Path(data_dir) if data_dir else default_data_dir()) / file


def missing_file_message(path: Path, option: str) -> str:
    return (
        f"data file {path} does not exist; check --task.{option}, --task.data_dir or "
        f"${DATA_DIR_ENV}"
    )
