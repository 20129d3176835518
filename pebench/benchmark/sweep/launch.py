"""``pebench sweep``: create a sweep's studies, run its workers, then write the leaderboard.

Studies are created once here, in the parent process, before any worker starts (workers
creating a fresh storage schema at the same time crash). The sweep definition is stored in
the storage with them, so ``pebench worker --storage URL --sweep NAME`` on another machine
needs nothing else. Re-running the same command resumes: finished trials are kept and only
the missing budget runs.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState
from rich.console import Console

from pebench.benchmark.run.settings import (
    GPU_ACCELERATORS,
    apply_requested_threads,
    requested_threads,
)
from pebench.benchmark.run.tracking import Tracker, resolve_mode
from pebench.benchmark.sweep.config import (
    SlurmSettings,
    SweepConfig,
    definition,
    extension,
    parse_sweep,
)
from pebench.benchmark.sweep.progress import SweepProgress
from pebench.benchmark.sweep.protocol import write_protocol
from pebench.benchmark.sweep.storage import JOURNAL_FILE, OUTPUT_ATTR, SWEEP_ATTR, SweepStorage
from pebench.benchmark.sweep.studies import ERROR_ATTR, check_task_args, plans
from pebench.errors import PebenchError

DEFAULT_ROOT = Path("runs") / "sweeps"


@dataclass
class SweepHandle:
    """An opened sweep: its definition, storage and output directory."""

    sweep: SweepConfig
    storage: SweepStorage
    output_dir: Path


#: file naming the sweep an output directory belongs to
SWEEP_MARKER = "pebench-sweep.txt"


def create_studies(storage: SweepStorage, sweep: SweepConfig, text: str, output_dir: Path) -> None:
    """Create (or check and reuse) the sweep's index study and its search/final studies."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # asking Optuna to create a study that exists still writes a record to a journal: every
    # resume would add one per study, so only the missing ones are created
    existing = {study.study_name for study in storage.optuna.get_all_studies()}
    if sweep.name in existing:
        index = optuna.load_study(study_name=sweep.name, storage=storage.optuna)
    else:
        index = optuna.create_study(
            study_name=sweep.name, storage=storage.optuna, load_if_exists=True
        )
    stored = index.user_attrs.get(SWEEP_ATTR)
    if stored is None:
        index.set_user_attr(SWEEP_ATTR, text)
        index.set_user_attr(OUTPUT_ATTR, str(output_dir.resolve()))
    elif definition(old := yaml.safe_load(stored)) != definition(new := yaml.safe_load(text)):
        added = extension(definition(old), definition(new))
        if added is None:
            raise PebenchError(
                f"sweep {sweep.name!r} in {storage.describe()} was started from a different "
                f"definition (only adding encodings or tasks is allowed); rename the sweep "
                f"(name:) or use another --output-dir/--storage"
            )
        index.set_user_attr(SWEEP_ATTR, text)
        grown = [f"encodings {', '.join(added[0])}"] if added[0] else []
        grown += [f"tasks {', '.join(added[1])}"] if added[1] else []
        print(
            f"pebench: sweep {sweep.name} grows by {' and '.join(grown)}; its finished "
            f"studies are kept",
            file=sys.stderr,
        )
    for plan in plans(sweep):
        for name in (plan.name, plan.final_name):
            if name in existing:
                continue
            optuna.create_study(
                study_name=name,
                storage=storage.optuna,
                direction=plan.direction,
                load_if_exists=True,
            )


def _create_marker(marker: Path, name: str) -> bool:
    """Create ``marker`` holding ``name`` if it does not exist yet (atomic: one creator wins)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(name + "\n")
    return True


def _marker_owner(marker: Path) -> str:
    """The sweep named in ``marker``, waiting briefly for a creator still writing it."""
    for _ in range(50):
        owner = marker.read_text().strip()
        if owner:
            return owner
        time.sleep(0.02)
    return owner


def claim_output_dir(root: Path, name: str) -> None:
    """Mark ``root`` as sweep ``name``'s directory, refusing one that belongs to another
    sweep (or holds other files), so two sweeps never mix their results. The marker is
    created exclusively, so of two sweeps started at once into one directory only one wins."""
    marker = root / SWEEP_MARKER
    if not marker.is_file():
        if root.exists() and not root.is_dir():
            raise PebenchError(f"output path {root} exists and is not a directory; choose another")
        journal = root / JOURNAL_FILE
        adopt = journal.is_file() and name in optuna.get_all_study_names(
            SweepStorage(str(journal)).optuna
        )  # made before directories were marked: adopt only its own sweep
        if not adopt and root.is_dir() and any(root.iterdir()):
            raise PebenchError(
                f"{root} already holds files that are not sweep {name!r}'s; choose an empty or "
                f"new --output-dir"
            )
        root.mkdir(parents=True, exist_ok=True)
        if _create_marker(marker, name):
            return
    owner = _marker_owner(marker)
    if owner != name:
        raise PebenchError(
            f"{root} belongs to sweep {owner!r}, not {name!r}; choose another --output-dir "
            f"(re-using a directory resumes the sweep that made it)"
        )


def open_sweep(storage: SweepStorage, name: str | None, output_dir: Path | None) -> SweepHandle:
    """A sweep already created in ``storage`` (the only one there when ``name`` is None)."""
    names = [n for n in optuna.get_all_study_names(storage.optuna) if "/" not in n]
    if name is None:
        if len(names) != 1:
            listed = ", ".join(names) or "none"
            raise PebenchError(
                f"{storage.describe()} holds sweeps: {listed}; choose one with --sweep NAME"
            )
        name = names[0]
    if name not in names:
        raise PebenchError(
            f"no sweep {name!r} in {storage.describe()} (found: {', '.join(names) or 'none'}); "
            f"start it with `pebench sweep CONFIG`"
        )
    index = optuna.load_study(study_name=name, storage=storage.optuna)
    sweep = parse_sweep(yaml.safe_load(index.user_attrs[SWEEP_ATTR]), f"sweep {name}")
    root = output_dir or Path(index.user_attrs[OUTPUT_ATTR])
    return SweepHandle(sweep, storage, root)


def parse_gpus(gpus: str | None) -> list[str]:
    if not gpus:
        return []
    ids = [g.strip() for g in gpus.split(",") if g.strip()]
    if not ids or not all(g.isdigit() for g in ids):
        raise PebenchError(f"--gpus takes comma-separated GPU indices like 0,1,2, got {gpus!r}")
    return ids


def preflight(sweep: SweepConfig, gpu_ids: list[str]) -> str | None:
    """Refuse, before anything is written, a sweep that cannot train here: ``--gpus`` ids
    that torch does not see, or runs that ask for a GPU on a machine without one. Returns the
    accelerator every run is forced to (``gpu`` under ``--gpus``), or None."""
    import torch

    count = torch.cuda.device_count()
    if gpu_ids:
        missing = sorted({g for g in gpu_ids if int(g) >= count}, key=int)
        if missing:
            fix = f"name ids below {count}" if count else "run with --workers N on CPU instead"
            raise PebenchError(
                f"--gpus names GPU {', '.join(missing)} but torch sees {count} GPU(s); {fix}"
            )
        return "gpu"
    if count == 0:
        for plan in plans(sweep):
            wanted = str(plan.run_config({}, sweep.search_seed)["train"].get("accelerator", ""))
            if wanted in GPU_ACCELERATORS:
                raise PebenchError(
                    f"study {plan.name} sets train.accelerator {wanted!r} but torch sees no "
                    f"GPU; set accelerator: cpu (or auto) in the sweep file, or run on a GPU"
                )
    return None


def sweep_outcome(storage: SweepStorage, sweep: SweepConfig) -> tuple[int, int, str | None]:
    """(final runs complete, trials failed, the first failure's reason) over every study."""
    complete = failed = 0
    first: tuple[Any, str] | None = None
    for plan in plans(sweep):
        for name in (plan.name, plan.final_name):
            for t in optuna.load_study(study_name=name, storage=storage.optuna).get_trials(
                deepcopy=False
            ):
                if name == plan.final_name and t.state == TrialState.COMPLETE:
                    complete += 1
                if t.state == TrialState.FAIL:
                    failed += 1
                    reason = f"{plan.name} trial {t.number}: {t.user_attrs.get(ERROR_ATTR)}"
                    if first is None or t.datetime_start < first[0]:
                        first = (t.datetime_start, reason)
    return complete, failed, None if first is None else first[1]


def execute(
    sweep: SweepConfig,
    text: str,
    root: Path,
    storage_url: str | None,
    workers: int,
    gpus: str | None,
    wandb: str | None,
    console: Console,
    scale: str | None = None,
    owner: str | None = None,
    slurm: SlurmSettings | None = None,
) -> tuple[SweepHandle, Tracker]:
    """Check, create (or resume) and run the studies of ``sweep`` (resolved ``text``) into
    ``root``, recording its protocol; raises when no run succeeded. ``owner`` names the
    directory's owner in its marker (default: the sweep's name); ``slurm`` runs the workers
    as a SLURM job array (:mod:`pebench.benchmark.sweep.slurm`)."""
    gpu_ids = parse_gpus(gpus)
    n_workers = len(gpu_ids) or workers
    if n_workers < 1:
        raise PebenchError(f"--workers must be at least 1, got {workers}")
    mode, note = resolve_mode(wandb)
    for plan in plans(sweep):
        try:
            plan.check()
        except PebenchError as exc:
            raise PebenchError(f"study {plan.name}: {exc}") from None
    check_task_args(sweep)
    # under --slurm the runs are placed by the array settings, on the compute nodes
    accelerator = preflight(sweep, gpu_ids) if slurm is None else None
    claim_output_dir(root, owner or sweep.name)
    storage = SweepStorage(storage_url or str(root / JOURNAL_FILE))
    create_studies(storage, sweep, text, root)
    write_protocol(root, text, scale)
    tracker = Tracker(mode, root, sweep.wandb_project)
    if note:
        console.print(f"[yellow]{note}[/yellow]; {tracker.sync_hint()}")
    threads = worker_threads(n_workers)
    console.print(
        f"sweep [bold]{sweep.name}[/bold]: {len(plans(sweep))} studies × {sweep.trials} trials "
        f"+ {len(sweep.seeds)} final seeds · storage {storage.describe()} · {n_workers} worker(s)"
        f" × {threads} CPU thread(s)"
    )
    in_process = n_workers == 1 and not gpu_ids and slurm is None
    progress = SweepProgress(storage.url, sweep, console, poll=not in_process)
    with progress:
        if slurm is not None:
            from pebench.benchmark.sweep.slurm import remaining, run_array

            done, total = remaining(storage, sweep)
            if done < total:
                run_array(storage, sweep, root, mode, slurm, console.print)
        elif in_process:
            import torch

            from pebench.benchmark.sweep.worker import Worker

            torch.set_num_threads(threads)
            with _sigterm_as_interrupt() as asked:
                worker = Worker(storage, sweep, root, tracker, on_trial_end=progress.trial_ended)
                worker.stop_asked = asked
                worker.run()
        else:
            _run_processes(storage, sweep, root, mode, gpu_ids, n_workers, accelerator)
    complete, failed, first_error = sweep_outcome(storage, sweep)
    if complete == 0 and failed:
        raise PebenchError(
            f"no run of sweep {sweep.name} succeeded ({failed} failed); the first error: "
            f"{first_error} (tracebacks in each run's error.txt under {root})"
        )
    return SweepHandle(sweep, storage, root), tracker


def worker_threads(n_workers: int) -> int:
    """CPU threads each worker's torch uses: ``$PEBENCH_NUM_THREADS`` when set (e.g. to share
    the machine with another sweep), else the machine's cores shared out (two workers with
    every core each would oversubscribe the CPU many times over)."""
    return requested_threads() or max(1, (os.cpu_count() or 1) // n_workers)


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook making a worker receive SIGTERM when its parent dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``), so a killed ``pebench sweep`` never leaves workers running
    the sweep on their own; None where the call does not exist. Looked up in the parent so the
    forked child only calls it."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@contextmanager
def _sigterm_as_interrupt() -> Iterator[threading.Event]:
    """Treat SIGTERM like Ctrl-C while the block runs (workers stopped, resume hint). The
    yielded event records that a stop was asked for, so a worker still stops between trials
    when the KeyboardInterrupt itself was swallowed (raised inside a library's destructor,
    where Python only prints it)."""
    asked = threading.Event()

    def interrupt(signum: int, frame: object) -> None:
        asked.set()
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield asked
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_processes(
    storage: SweepStorage,
    sweep: SweepConfig,
    root: Path,
    mode: str,
    gpu_ids: list[str],
    n_workers: int,
    accelerator: str | None = None,
) -> None:
    """Start ``n_workers`` worker processes (one per GPU when given; an id may repeat to
    share a GPU) and wait for them; ``accelerator`` overrides every run's."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    threads = worker_threads(n_workers)
    procs = []
    end_with_parent = _parent_death_signal()
    for i in range(n_workers):
        env = dict(os.environ, PEBENCH_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        if gpu_ids:
            env["CUDA_VISIBLE_DEVICES"] = gpu_ids[i]
        command = [
            sys.executable, "-m", "pebench", "worker",
            "--storage", storage.url, "--sweep", sweep.name, "--output-dir", str(root),
            "--wandb", mode, "--worker-index", str(i),
        ]  # fmt: skip
        if accelerator:
            command += ["--accelerator", accelerator]
        log = open(logs / f"worker-{i}.log", "a")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=log, preexec_fn=end_with_parent
        )
        procs.append((proc, log))
    try:
        with _sigterm_as_interrupt():
            while any(p.poll() is None for p, _ in procs):
                time.sleep(1.0)
    except KeyboardInterrupt:
        for p, _ in procs:
            p.terminate()
        for p, _ in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        raise
    finally:
        for _, log in procs:
            log.close()
    failed = [i for i, (p, _) in enumerate(procs) if p.returncode != 0]
    if failed:
        raise PebenchError(
            f"worker(s) {', '.join(map(str, failed))} failed; see {logs}/worker-N.log, fix the "
            f"cause and re-run the same command to resume"
        )


def run_worker(
    storage_url: str,
    name: str | None,
    output_dir: Path | None = None,
    wandb: str | None = None,
    worker_index: int = 0,
    console: Console | None = None,
    threads: int | None = None,
    accelerator: str | None = None,
) -> int:
    """Join a sweep already created in ``storage_url``; returns the number of trials run.
    ``threads`` (else ``$PEBENCH_NUM_THREADS``, set by ``pebench sweep --workers``) caps the
    worker's CPU threads; ``accelerator`` overrides the sweep file's for every run."""
    console = console or Console()
    in_use = apply_requested_threads(threads)
    console.print(f"worker {worker_index}: {in_use} CPU thread(s)")
    storage = SweepStorage(storage_url)
    handle = open_sweep(storage, name, output_dir)
    mode, note = resolve_mode(wandb)
    tracker = Tracker(mode, handle.output_dir, handle.sweep.wandb_project)
    if note:
        console.print(f"{note}; {tracker.sync_hint()}")
    from pebench.benchmark.sweep.worker import Worker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        worker = Worker(
            storage, handle.sweep, handle.output_dir, tracker, worker_index,
            accelerator=accelerator,
        )  # fmt: skip
        with _sigterm_as_interrupt() as asked:
            worker.stop_asked = asked
            ran = worker.run()
    console.print(f"worker {worker_index}: ran {ran} trial(s); sweep {handle.sweep.name} done")
    return ran
