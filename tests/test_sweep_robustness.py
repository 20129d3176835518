"""Sweeps under damage and misuse (issue 18): damaged journals, racing sweeps, pre-flight
checks, resumed samplers."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pebench.benchmark.cli import main
from pebench.benchmark.sweep.run import SWEEP_MARKER, claim_output_dir, run_sweep
from pebench.benchmark.sweep.storage import JOURNAL_FILE, SweepStorage
from pebench.errors import PebenchError
from tests.test_sweep import trials_of, write_sweep


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    """A finished one-encoding sweep: 2 search trials and one final seed."""
    out = tmp_path / "out"
    run_sweep(write_sweep(tmp_path, encodings=["sinusoidal"], seeds=[1]), out, wandb="disabled")
    return out


def test_unfinished_last_record_is_cut_off_and_said(finished: Path, capsys) -> None:
    journal = finished / JOURNAL_FILE
    intact = journal.read_bytes()
    journal.write_bytes(intact + b'{"op_code": 5, "worker_id": "x", "trial_id": 0, "par')
    storage = SweepStorage(str(journal))
    assert "cut off an unfinished last record" in capsys.readouterr().err
    assert journal.read_bytes() == intact
    search = trials_of(storage.optuna, "tiny/copy/sinusoidal")
    assert [t.state for t in search] == [TrialState.COMPLETE] * 2
    # appending now lands on a clean line: a new process still reads every record
    optuna.create_study(study_name="after-repair", storage=storage.optuna)
    names = optuna.get_all_study_names(SweepStorage(str(journal)).optuna)
    assert "after-repair" in names and "tiny/copy/sinusoidal" in names


def test_damaged_record_inside_the_journal_is_one_line(finished: Path, capsys) -> None:
    journal = finished / JOURNAL_FILE
    lines = journal.read_bytes().split(b"\n")
    lines.insert(3, b"\x00\x00garbage")
    journal.write_bytes(b"\n".join(lines))
    before = journal.read_bytes()
    for command in (["leaderboard", "--output-dir", str(finished)],):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{journal}:4: damaged journal record" in err and "Traceback" not in err
    assert journal.read_bytes() == before  # nothing written


def _claim(root: str, name: str, barrier, results) -> None:
    # widen the race: both processes pass the checks before either writes its marker
    mkdir = Path.mkdir

    def slow_mkdir(self: Path, *args, **kwargs) -> None:
        mkdir(self, *args, **kwargs)
        time.sleep(0.3)

    Path.mkdir = slow_mkdir  # this forked child only
    barrier.wait()
    try:
        claim_output_dir(Path(root), name)
        results.put((name, "claimed"))
    except PebenchError as exc:
        results.put((name, str(exc)))


def test_two_sweeps_racing_for_one_directory_never_both_claim_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        root = tmp_path / f"race-{attempt}"
        barrier, results = context.Barrier(2), context.Queue()
        procs = [
            context.Process(target=_claim, args=(str(root), name, barrier, results))
            for name in ("sweep-a", "sweep-b")
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(30)
        outcomes = dict(results.get(timeout=5) for _ in procs)
        winners = [n for n, outcome in outcomes.items() if outcome == "claimed"]
        assert len(winners) == 1, outcomes
        assert (root / SWEEP_MARKER).read_text().strip() == winners[0]
        loser = outcomes[{"sweep-a": "sweep-b", "sweep-b": "sweep-a"}[winners[0]]]
        assert "choose" in loser and "--output-dir" in loser
