"""Which process of a run this is, from the launcher's environment alone (no torch: the
command line asks before it loads anything)."""

from __future__ import annotations

import os


def is_launch_zero() -> bool:
    """Whether this is the process a user started (global rank 0), as the launcher's
    environment says before any process group exists: Lightning's ``LOCAL_RANK`` and
    ``NODE_RANK`` for the processes it starts, SLURM's ``SLURM_PROCID`` for a multi-task
    job step. Only this process writes the run's directory."""
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in os.environ:
        return int(os.environ["SLURM_PROCID"]) == 0
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0
