"""``pebench sweep --slurm`` against a real single-node SLURM cluster on loopback: Debian's
``munged``, ``slurmctld`` and ``slurmd``, configured in a temp directory and started here
(``.ci/run`` installs them). The sweep's workers run as a 2-task job array; the budget is
exact, the leaderboard published, a cancelled array resumed by the same command, and the
user's mistakes are one line."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml

from pebench.benchmark.cli import main
from pebench.benchmark.sweep.storage import JOURNAL_FILE, SweepStorage
from tests import postgres_server

COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol")


def unavailable() -> str | None:
    """Why a SLURM cluster cannot be started here, or None."""
    missing = [d for d in DAEMONS if shutil.which(d) is None and not Path("/usr/sbin", d).exists()]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} missing; .ci/run installs it)"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs"
    return None


#: slow (about a minute): `.ci/run` runs it after `make test`, which stays under 6 minutes
pytestmark = [
    pytest.mark.skipif(unavailable() is not None, reason=str(unavailable())),
    pytest.mark.slow,
]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _daemon(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A one-node cluster (this machine, 2 CPUs, partition ``debug``); yields the
    environment its client commands need (``SLURM_CONF``)."""
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("munge", "state", "spool", "log", "run"):
        (root / sub).mkdir()
    (root / "munge").chmod(0o755)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    munge = root / "munge" / "munge.socket"
    subprocess.run([
        _daemon("munged"), "--force", f"--socket={munge}", f"--key-file={key}",
        f"--log-file={root}/munge/munged.log", f"--pid-file={root}/munge/munged.pid",
        f"--seed-file={root}/munge/munged.seed",
    ], check=True)  # fmt: skip
    host = socket.gethostname()
    conf = root / "slurm.conf"
    conf.write_text(f"""ClusterName=pebenchtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_port()}
SlurmdPort={_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
""")
    env = {"SLURM_CONF": str(conf)}
    subprocess.run(
        [_daemon("slurmctld"), "-f", str(conf), "-i"], check=True, env={**os.environ, **env}
    )
    subprocess.run([_daemon("slurmd"), "-f", str(conf), "-N", host], check=True,
                   env={**os.environ, **env})  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                               env={**os.environ, **env}).stdout.strip()  # fmt: skip
        if state in ("idle", "mixed", "allocated"):
            break
        time.sleep(0.5)
    else:
        log = (root / "log" / "slurmctld.log").read_text()
        pytest.fail(f"the test cluster did not come up: {log[-2000:]}")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        subprocess.run(["scancel", "--user", "root"], env={**os.environ, **env})
        for pid_file in ("run/slurmd.pid", "run/slurmctld.pid", "munge/munged.pid"):
            path = root / pid_file
            if path.is_file():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(path.read_text().strip()), signal.SIGTERM)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


SWEEP = {
    "name": "slurmtiny",
    "tasks": [{"name": "copy", "task": {"class_path": "copy", "init_args": {
        "train_lengths": [1, 3], "eval_lengths": [1, 4], "eval_samples": 2}}}],
    "encodings": ["sinusoidal", "alibi"],
    "model": {"d_model": 16, "num_layers": 1, "num_heads": 2},
    "train": {"max_steps": 4, "batch_size": 4, "eval_every": 2, "accelerator": "cpu"},
    "search_space": {"optim.lr": {"low": 1.0e-3, "high": 1.0e-2, "log": True}},
    "trials": 2,
    "pruner": {"type": "none"},
    "seeds": [1, 2],
    "slurm": {"tasks": 2, "cpus": 1},
}  # fmt: skip


def write(directory: Path, **changes: object) -> Path:
    path = directory / "sweep.yaml"
    path.write_text(yaml.safe_dump({**SWEEP, **changes}, sort_keys=False))
    return path


def counted(storage: str) -> dict[str, int]:
    """Trials per study (search and final) that count against the budget: complete or
    pruned (a killed worker's failed attempt is retried and does not count)."""
    store = SweepStorage(storage).optuna
    return {
        name: sum(t.state in COUNTED for t in optuna.load_study(
            study_name=name, storage=store).get_trials(deepcopy=False))
        for name in optuna.get_all_study_names(store) if "/" in name
    }  # fmt: skip


def test_a_sweep_runs_as_a_job_array_with_the_exact_budget(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert main(["sweep", str(write(tmp_path)), "--output-dir", str(out), "--slurm",
                 "--wandb", "disabled"]) == 0  # fmt: skip
    assert counted(str(out / JOURNAL_FILE)) == {
        f"slurmtiny/copy/{e}{f}": 2 for e in ("sinusoidal", "alibi") for f in ("", "/final")
    }
    logs = sorted(p.name for p in (out / "slurm").glob("worker-*.log"))
    assert len(logs) == 2 and all(re.fullmatch(r"worker-\d+_[01]\.log", n) for n in logs)
    assert "#SBATCH --array=0-1" in (out / "slurm" / "worker.sbatch").read_text()
    board = (out / "leaderboard.md").read_text()
    assert "| sinusoidal |" in board and "| alibi |" in board


def test_a_cancelled_array_is_resumed_by_the_same_command(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pebench", "sweep", str(write(tmp_path)), "--output-dir",
               str(out), "--slurm", "--wandb", "disabled"]  # fmt: skip
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / JOURNAL_FILE).is_file():
        time.sleep(0.5)
    while time.monotonic() < deadline and sum(counted(str(out / JOURNAL_FILE)).values()) < 1:
        time.sleep(0.5)
    subprocess.run(["scancel", "--name", "pebench-slurmtiny"], check=True)
    _, err = parent.communicate(timeout=120)
    assert parent.returncode == 2, err
    line = err.strip().splitlines()[-1]
    assert re.search(r"SLURM array job \d+ ended with \d of 8 trials and seeds finished", line)
    assert "run the same command again" in line
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert sum(counted(str(out / JOURNAL_FILE)).values()) == 8  # the exact budget, none lost
    assert (out / "leaderboard.md").is_file()


def test_a_requeued_task_rejoins_and_the_budget_stays_exact(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    """``scontrol requeue`` stops a task's worker mid-sweep (its trial is re-queued by the
    storage); SLURM starts the task again and its worker rejoins: the sweep finishes with the
    exact budget and the parent reports success."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pebench", "sweep", str(write(tmp_path)), "--output-dir",
               str(out), "--slurm", "--wandb", "disabled"]  # fmt: skip
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    job = None
    while time.monotonic() < deadline and job is None:
        listed = subprocess.run(
            ["squeue", "-h", "--name", "pebench-slurmtiny", "-t", "R", "-o", "%i"],
            capture_output=True,
            text=True,
        ).stdout.split()
        job = next((j for j in listed if j.endswith("_0")), None)
        time.sleep(0.5)
    assert job is not None, "the array never ran"
    time.sleep(3)  # the worker is inside a trial
    subprocess.run(["scontrol", "requeue", job], check=True)
    _, err = parent.communicate(timeout=300)
    assert parent.returncode == 0, err
    assert sum(counted(str(out / JOURNAL_FILE)).values()) == 8
    assert (out / "leaderboard.md").is_file()


def test_mistakes_are_one_line(cluster: dict[str, str], tmp_path: Path, capsys) -> None:
    def refused(args: list[str], env: dict[str, str] | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "pebench", "sweep", *args],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, **(env or {})})  # fmt: skip
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        return lines[0]

    path = write(tmp_path)
    no_sbatch = refused([str(path), "--output-dir", str(tmp_path / "a"), "--slurm"],
                        env={"PATH": str(Path(sys.executable).parent)})  # fmt: skip
    assert "--slurm needs SLURM's sbatch, which is not on PATH" in no_sbatch
    partition = refused([str(path), "--output-dir", str(tmp_path / "b"), "--slurm",
                         "--slurm-partition", "nope"])  # fmt: skip
    assert "SLURM refused the worker array: invalid partition specified: nope" in partition


@pytest.mark.skipif(
    postgres_server.available() is not None, reason=str(postgres_server.available())
)
def test_a_storage_the_workers_cannot_reach_is_one_line(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    """The parent reaches PostgreSQL through PGPORT; the workers, started with
    ``--export=NONE`` as many clusters do, do not see it and find no server: the array ends
    with nothing done, and the parent says what the workers said."""
    with postgres_server.postgres_server() as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        portless = url.replace(f":{port}/", "/")
        done = subprocess.run(
            [sys.executable, "-m", "pebench", "sweep", str(write(tmp_path)), "--output-dir",
             str(tmp_path / "out"), "--storage", portless, "--slurm", "--slurm-options",
             '["--export=NONE"]', "--wandb", "disabled"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "PGPORT": port},
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert re.search(r"SLURM array job \d+ ended with 0 of 8 trials and seeds finished; "
                     r"a worker said: worker-\d+_\d\.log: ", line), line  # fmt: skip
