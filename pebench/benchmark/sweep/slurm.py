"""A sweep's workers as a SLURM job array (``pebench sweep --slurm``).

The parent creates the studies in the sweep's storage, writes one batch script
(``slurm/worker.sbatch`` in the output directory: readable, and resubmittable by hand) and
submits it with plain ``sbatch --array``: every array task runs ``pebench worker`` against the
storage, so the compute nodes must reach it (PostgreSQL, or the journal file on a filesystem
they share). The parent then follows the storage until the array has left the queue, and the
sweep is done only when every trial and final seed is: a cancelled or failed task leaves the
budget short, which is reported (with what a worker said) and resumed by running the same
command again, which submits a new array for the rest. Tasks are submitted ``--requeue``: a
preempted or requeued task's worker is stopped, its trial re-queued by the storage, and the
task joins again when SLURM restarts it.

Plain ``sbatch`` rather than submitit: the workers are a command line already, the script is
what a cluster's admins read and what a user can resubmit, and nothing is pickled.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pebench.benchmark.sweep.config import SlurmSettings, SweepConfig
from pebench.benchmark.sweep.storage import SweepStorage
from pebench.errors import PebenchError

SCRIPT = Path("slurm") / "worker.sbatch"
#: seconds between two looks at the queue
POLL_S = 5.0


def script(settings: SlurmSettings, storage_url: str, sweep: SweepConfig, root: Path,
           mode: str) -> str:  # fmt: skip
    """The array's batch script: one ``pebench worker`` per task."""
    logs = root.resolve() / "slurm"
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name=pebench-{sweep.name}",
        f"#SBATCH --array=0-{settings.tasks - 1}",
        f"#SBATCH --output={logs}/worker-%A_%a.log",
        "#SBATCH --requeue",
    ]
    if settings.gpus:
        lines.append(f"#SBATCH --gres=gpu:{settings.gpus}")
    for flag, value in (("cpus-per-task", settings.cpus), ("partition", settings.partition),
                        ("time", settings.time), ("account", settings.account)):  # fmt: skip
        if value is not None:
            lines.append(f"#SBATCH --{flag}={value}")
    lines += [f"#SBATCH {option}" for option in settings.options]
    command = [
        sys.executable, "-m", "pebench", "worker", "--storage", storage_url,
        "--sweep", sweep.name, "--output-dir", str(root.resolve()), "--wandb", mode,
    ]  # fmt: skip
    if settings.gpus:
        command += ["--accelerator", "gpu"]
    if settings.cpus:
        command += ["--threads", str(settings.cpus)]
    worker = " ".join(shlex.quote(part) for part in command)
    lines.append(f'exec {worker} --worker-index "$SLURM_ARRAY_TASK_ID"')
    return "\n".join(lines) + "\n"


def _sbatch() -> str:
    found = shutil.which("sbatch")
    if found is None:
        raise PebenchError(
            "--slurm needs SLURM's sbatch, which is not on PATH; run on a login node of the "
            "cluster, or start pebench worker yourself (docs/cluster.md)"
        )
    return found


def submit(settings: SlurmSettings, storage_url: str, sweep: SweepConfig, root: Path,
           mode: str) -> str:  # fmt: skip
    """Write the batch script and submit it; returns the array's job id."""
    sbatch = _sbatch()
    if settings.tasks < 1:
        raise PebenchError(f"slurm tasks must be at least 1, got {settings.tasks}")
    path = root / SCRIPT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script(settings, storage_url, sweep, root, mode))
    done = subprocess.run([sbatch, "--parsable", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        why = said[0].removeprefix("sbatch: error: ") if said else f"exit {done.returncode}"
        raise PebenchError(
            f"SLURM refused the worker array: {why}; fix the slurm settings (--slurm-partition, "
            f"--slurm-time, --slurm-account or the sweep file's slurm:) and run again"
        )
    return done.stdout.strip().split(";")[0]


def queued(job: str) -> bool:
    """Whether any task of the array is still pending or running."""
    squeue = shutil.which("squeue")
    if squeue is None:
        raise PebenchError("--slurm needs SLURM's squeue, which is not on PATH")
    done = subprocess.run([squeue, "-h", "-j", job, "-o", "%T"], capture_output=True, text=True)
    return done.returncode == 0 and bool(done.stdout.strip())


def worker_error(root: Path, job: str) -> str | None:
    """The first error a worker of the array reported in its log (``pebench: error: …``)."""
    for log in sorted((root / "slurm").glob(f"worker-{job}_*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("pebench: error:"):
                return f"{log.name}: {line.removeprefix('pebench: error:').strip()}"
    return None


def remaining(storage: SweepStorage, sweep: SweepConfig) -> tuple[int, int]:
    """(finished, planned) trials and final seeds over the sweep's studies."""
    import optuna

    from pebench.benchmark.sweep.studies import finished, plans

    done = total = 0
    for plan in plans(sweep):
        for name in (plan.name, plan.final_name):
            study = optuna.load_study(study_name=name, storage=storage.optuna)
            done += sum(map(finished, study.get_trials(deepcopy=False)))
        total += sweep.trials + len(sweep.seeds)
    return done, total


def run_array(storage: SweepStorage, sweep: SweepConfig, root: Path, mode: str,
              settings: SlurmSettings, say: Callable[[str], object] = print) -> str:  # fmt: skip
    """Submit the workers and wait until the array has left the queue; raises, saying how
    much is missing and what a worker reported, unless the whole budget finished."""
    job = submit(settings, storage.url, sweep, root, mode)
    say(f"submitted SLURM array job {job} ({settings.tasks} workers; logs in {root / 'slurm'})")
    try:
        while queued(job):
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        say(f"the array keeps running (scancel {job} stops it); run the same command to follow "
            f"it again")  # fmt: skip
        raise
    done, total = remaining(storage, sweep)
    if done < total:
        error = worker_error(root, job)
        said = f"; a worker said: {error}" if error else ""
        raise PebenchError(
            f"SLURM array job {job} ended with {done} of {total} trials and seeds finished"
            f"{said}; fix the cause and run the same command again to submit the rest"
        )
    return job
