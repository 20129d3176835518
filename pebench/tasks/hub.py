"""Loading Hugging Face hub datasets, failing fast and clearly when they cannot be had."""

from __future__ import annotations

import os
from typing import Any

from pebench.errors import PebenchError


def load_hub_split(name: str, config: str | None, split: str) -> Any:
    """One split of a hub dataset through ``datasets.load_dataset`` (local cache first).

    Without network (or with ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` set) a dataset that
    is not cached fails at once with a message saying how to use local files instead; no
    retry loop.
    """
    import datasets

    label = f"{name}" + (f" ({config})" if config else "")
    offline = any(
        os.environ.get(k, "0") not in ("", "0") for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )
    try:
        return datasets.load_dataset(
            name,
            config,
            split=split,
            download_config=datasets.DownloadConfig(max_retries=0, local_files_only=offline),
        )
    except Exception as exc:  # datasets raises many types for "not reachable / not cached"
        reason = "offline and not in the local cache" if offline else str(exc).splitlines()[0][:200]
        raise PebenchError(
            f"cannot load hub dataset {label} split {split!r}: {reason}; download it on a machine "
            f"with network, or pass local files with --task.train_file/--task.validation_file/"
            f"--task.test_file"
        ) from None
