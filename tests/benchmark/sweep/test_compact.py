"""``pebench compact``: a stopped sweep's journal loses only heartbeats nobody reads again,
replays to the same trials, and is refused (untouched) while a trial runs; the committed
journals are compacted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pebench.benchmark.cli import main
from pebench.benchmark.sweep.compact import _snapshot, compact_journal, superseded
from pebench.benchmark.sweep.config import load_sweep
from pebench.benchmark.sweep.launch import create_studies
from pebench.benchmark.sweep.storage import HEARTBEAT_ATTR, JOURNAL_FILE, SweepStorage
from pebench.errors import PebenchError
from tests.benchmark.sweep.test_sweep import write_sweep

ROOT = Path(__file__).parents[3]


def _journal(tmp_path: Path, finish: bool = True) -> tuple[Path, SweepStorage]:
    """A study with two trials, each with several heartbeats; the second left running
    unless ``finish``."""
    path = tmp_path / JOURNAL_FILE
    storage = SweepStorage(str(path))
    study = optuna.create_study(storage=storage.optuna, study_name="s", direction="maximize")
    for number in range(2):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        trial.set_user_attr("worker", f"host:1:{number}")
        for beat in range(4):
            storage.optuna.set_trial_user_attr(trial._trial_id, HEARTBEAT_ATTR, 100.0 + beat)
        trial.report(0.5, step=1)
        if finish or number == 0:
            study.tell(trial, 0.25 * (number + 1))
    return path, storage


def _heartbeats(path: Path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["op_code"] == 8 and HEARTBEAT_ATTR in r["user_attr"]]


def test_compaction_keeps_the_last_heartbeat_and_replays_the_same(tmp_path: Path) -> None:
    path, _ = _journal(tmp_path)
    before, size = _snapshot(path), path.stat().st_size
    done = compact_journal(tmp_path)
    assert done.records_before - done.records_after == 6  # three of four beats, two trials
    assert done.bytes_after == path.stat().st_size < size
    assert [r["user_attr"][HEARTBEAT_ATTR] for r in _heartbeats(path)] == [103.0, 103.0]
    assert _snapshot(path) == before
    trials = optuna.load_study(study_name="s", storage=SweepStorage(str(path)).optuna).trials
    assert [t.user_attrs[HEARTBEAT_ATTR] for t in trials] == [103.0, 103.0]
    assert [t.intermediate_values for t in trials] == [{1: 0.5}, {1: 0.5}]


def test_an_interrupted_sweep_is_compacted_and_resumes(tmp_path: Path) -> None:
    """A trial queued to run again (an interrupted sweep) stays queued and runs on resume."""
    path, storage = _journal(tmp_path)
    study = optuna.load_study(study_name="s", storage=storage.optuna)
    study.enqueue_trial({"x": 0.5}, user_attrs={"seed": 3})
    compact_journal(path)
    study = optuna.load_study(study_name="s", storage=SweepStorage(str(path)).optuna)
    assert [t.state for t in study.trials][-1] == TrialState.WAITING
    trial = study.ask()
    assert (trial.suggest_float("x", 0, 1), trial.user_attrs) == (0.5, {"seed": 3})
    study.tell(trial, 0.9)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert study.best_value == 0.9


def test_a_heartbeat_after_the_end_is_dropped_and_the_applied_one_kept() -> None:
    """Optuna ignores a late heartbeat (another worker's, written as the trial ended): the
    one before the end decides the attribute and must survive."""
    beat = {"op_code": 8, "trial_id": 0}
    records = [
        {"op_code": 0, "study_name": "s"},
        {"op_code": 4, "study_id": 0},
        {**beat, "user_attr": {HEARTBEAT_ATTR: 1.0}},
        {**beat, "user_attr": {HEARTBEAT_ATTR: 2.0}},
        {"op_code": 6, "trial_id": 0, "state": TrialState.COMPLETE.value},
        {**beat, "user_attr": {HEARTBEAT_ATTR: 3.0}},
        {**beat, "user_attr": {"worker": "w"}},
    ]
    assert superseded(records) == {2, 5}


def test_a_repeated_study_creation_is_dropped_and_ids_stay() -> None:
    """Replay ignores creating a study whose name exists (and numbers only new studies), so
    the trial that follows still belongs to study 1."""
    records = [
        {"op_code": 0, "study_name": "a"},
        {"op_code": 0, "study_name": "b"},
        {"op_code": 0, "study_name": "a"},
        {"op_code": 4, "study_id": 1},
        {"op_code": 8, "trial_id": 0, "user_attr": {HEARTBEAT_ATTR: 1.0}},
        {"op_code": 1, "study_id": 0},
        {"op_code": 0, "study_name": "a"},
    ]
    assert superseded(records) == {2}


def test_resuming_a_sweep_writes_no_record(tmp_path: Path) -> None:
    """Starting a sweep again used to append one creation record per study to the journal."""
    sweep, text = load_sweep(write_sweep(tmp_path, encodings=["sinusoidal", "rope"]))
    storage = SweepStorage(str(tmp_path / JOURNAL_FILE))
    create_studies(storage, sweep, text, tmp_path)
    data = (tmp_path / JOURNAL_FILE).read_bytes()
    create_studies(SweepStorage(str(tmp_path / JOURNAL_FILE)), sweep, text, tmp_path)
    assert (tmp_path / JOURNAL_FILE).read_bytes() == data


def test_a_running_sweep_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path, _ = _journal(tmp_path, finish=False)
    data = path.read_bytes()
    with pytest.raises(PebenchError, match="1 trials are running .*compact only a sweep no"):
        compact_journal(tmp_path)
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [JOURNAL_FILE, "optuna.lock"]


def test_the_command_reports_and_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _journal(tmp_path)
    assert main(["compact", str(tmp_path)]) == 0
    assert "6 of" in capsys.readouterr().out.replace("\n", " ")
    assert main(["compact", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no journal at" in err
    assert main(["compact", "postgresql://u@127.0.0.1:1/db"]) == 2
    assert "needs no compaction" in capsys.readouterr().err


def _committed_journals() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", f"*{JOURNAL_FILE}"], cwd=ROOT, capture_output=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name]


@pytest.mark.parametrize(
    "journal", _committed_journals(), ids=lambda p: str(p.parent.relative_to(ROOT))
)
def test_committed_journals_are_compacted(journal: Path) -> None:
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert not superseded(records), f"run `pebench compact {journal.parent}` before committing"
