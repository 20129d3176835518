"""Sweeps: exact budgets across worker processes (journal file and PostgreSQL), pruning,
resuming, one W&B run per trial, and the leaderboard files."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib.image
import optuna
import pytest
import yaml
from optuna.trial import TrialState

from pebench.benchmark.cli import main
from pebench.benchmark.cli.sweep import run_sweep
from pebench.benchmark.leaderboard.table import HEADERS_AFTER
from pebench.benchmark.run.tracking import Tracker
from pebench.benchmark.sweep.config import extension, load_sweep, parse_sweep
from pebench.benchmark.sweep.launch import create_studies
from pebench.benchmark.sweep.storage import JOURNAL_FILE, WORKER_ATTR, SweepStorage, worker_id
from pebench.benchmark.sweep.studies import check_task_args, plans
from pebench.benchmark.sweep.worker import Worker
from pebench.errors import PebenchError
from tests import postgres_server
from tests.wandb_records import read_runs

TINY: dict[str, Any] = {
    "name": "tiny",
    "tasks": [
        {
            "name": "copy",
            "task": {
                "class_path": "copy",
                "init_args": {"train_lengths": [1, 3], "eval_lengths": [1, 4], "eval_samples": 2},
            },
        }
    ],
    "encodings": ["sinusoidal", "alibi"],
    "model": {"d_model": 16, "num_layers": 1, "num_heads": 2},
    "train": {"max_steps": 4, "batch_size": 4, "eval_every": 2, "accelerator": "cpu"},
    "search_space": {
        "optim.lr": {"low": 1.0e-3, "high": 1.0e-2, "log": True},
        "model.dropout": {"choices": [0.0, 0.1]},
        "encoding.base": {"choices": [100.0, 10000.0], "when": {"encoding": "rope"}},
    },
    "trials": 2,
    "pruner": {"type": "median", "n_startup_trials": 1},
    "seeds": [1, 2],
}


def write_sweep(directory: Path, **changes: Any) -> Path:
    doc = copy.deepcopy(TINY)
    doc.update(changes)
    path = directory / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def trials_of(storage: Any, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def counted(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    return [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny sweep run in-process with offline W&B, shared by the checks below."""
    root = tmp_path_factory.mktemp("sweep")
    run_sweep(write_sweep(root), output_dir=root / "out", wandb="offline")
    return root / "out"


def test_sweep_runs_exact_budget_then_final_seeds(swept: Path) -> None:
    storage = SweepStorage(str(swept / JOURNAL_FILE)).optuna
    for encoding in ("sinusoidal", "alibi"):
        search = trials_of(storage, f"tiny/copy/{encoding}")
        assert len(search) == 2 and len(counted(search)) == 2
        final = trials_of(storage, f"tiny/copy/{encoding}/final")
        assert sorted(t.user_attrs["seed"] for t in final) == [1, 2]
        assert all(t.state == TrialState.COMPLETE for t in final)
        best = optuna.load_study(study_name=f"tiny/copy/{encoding}", storage=storage).best_trial
        for trial in final:
            assert trial.user_attrs["params"] == best.params
            config = yaml.safe_load(
                (swept / trial.user_attrs["output_dir"] / "config.yaml").read_text()
            )
            assert config["optim"]["lr"] == pytest.approx(best.params["optim.lr"])
            assert config["seed"] == trial.user_attrs["seed"]


def test_rerunning_a_finished_sweep_runs_nothing(swept: Path) -> None:
    storage = SweepStorage(str(swept / JOURNAL_FILE)).optuna
    before = {s: len(trials_of(storage, s)) for s in optuna.get_all_study_names(storage)}
    run_sweep(swept.parent / "tiny.yaml", output_dir=swept, wandb="disabled")
    after = {s: len(trials_of(storage, s)) for s in optuna.get_all_study_names(storage)}
    assert after == before


def test_one_wandb_run_per_trial_with_group_type_tags_and_state(swept: Path) -> None:
    runs = read_runs(swept)
    by_type: dict[str, list[Any]] = {}
    for run in runs:
        by_type.setdefault(run.job_type, []).append(run)
    assert len(by_type["trial"]) == 4 and len(by_type["final"]) == 4
    assert len(by_type["leaderboard"]) == 1
    for run in by_type["trial"] + by_type["final"]:
        encoding = run.config["encoding_label"]
        assert run.group == f"tiny/copy/{encoding}"
        assert run.tags == ["copy", encoding]
        # every resolved setting, flattened so a dashboard can filter and group by it
        settings = {"model.d_model", "optim.lr", "train.max_steps", "task.train_lengths", "seed"}
        assert {"trial", "worker", "params", *settings} <= run.config.keys()
        assert run.config["encoding"] == encoding and run.config["task"] == "copy"
        assert run.config["model.d_model"] == 16 and run.config["task.train_lengths"] == [1, 3]
        assert run.summary["optuna_state"] in ("complete", "pruned")
        if run.summary["optuna_state"] == "complete":  # the length curve as a table + plots
            assert run.summary["per_length/_type"] == "table-file"
            assert run.summary["per_length/exact_match_table/_type"] == "table-file"
    board = by_type["leaderboard"][0]
    assert board.group == "tiny"
    assert board.summary["leaderboard/_type"] == "table-file"
    assert board.summary["leaderboard/nrows"] == 2  # one row per encoding
    assert board.summary["plot_length_copy/_type"] == "image-file"


def test_leaderboard_files_have_the_documented_columns(swept: Path) -> None:
    header = (swept / "leaderboard.csv").read_text().splitlines()[0].split(",")
    assert header == ["encoding", "copy ID", "copy OOD", *HEADERS_AFTER]
    rows = (swept / "leaderboard.csv").read_text().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["alibi", "sinusoidal"]
    assert all(re.search(r"\d\.\d{3} ± \d\.\d{3}", r) for r in rows)
    md = (swept / "leaderboard.md").read_text()
    assert "| encoding | copy ID | copy OOD | mean rank |" in md
    assert '<table id="board">' in (swept / "leaderboard.html").read_text()
    for name in ("plot_length_copy.png", "plot_quality_vs_throughput.png"):
        image = matplotlib.image.imread(swept / name)
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not blank


def test_leaderboard_command_rebuilds_from_storage(swept: Path, capsys: Any) -> None:
    (swept / "leaderboard.md").unlink()
    assert main(["leaderboard", "--output-dir", str(swept), "--wandb", "disabled"]) == 0
    assert (swept / "leaderboard.md").is_file()
    assert "pebench leaderboard: tiny" in capsys.readouterr().out


def test_leaderboard_rebuilds_without_importing_torch_or_lightning(swept: Path) -> None:
    """Rebuilding a table reads storage and metrics.json only: no seconds of torch and
    Lightning start-up (task metrics come from the sources, bench only with --bench)."""
    code = (
        "import sys; from pebench.benchmark.cli import main; "
        "rc = main(['leaderboard', '--output-dir', sys.argv[1], '--wandb', 'disabled']); "
        "print(rc, 'torch' in sys.modules, 'lightning' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(swept)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "0 False False"


def test_a_sweep_logging_to_a_file_writes_a_line_per_finished_trial(tmp_path: Path) -> None:
    """Run in the background (output not a terminal), a sweep shows its progress as one
    timestamped line per finished trial, since live bars would print nothing until the end."""
    import io
    import re

    from rich.console import Console

    log = io.StringIO()
    sweep = write_sweep(tmp_path, encodings=["alibi"], trials=1, seeds=[1], search_space={})
    sweep.write_text(sweep.read_text().replace("trials: 1", "trials: 0"))
    run_sweep(sweep, output_dir=tmp_path / "out", wandb="disabled", console=Console(file=log))
    lines = [line for line in log.getvalue().splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert len(lines) == 2, log.getvalue()
    assert lines[0][9:] == "0/1 trials and seeds finished"
    assert re.fullmatch(r"1/1 copy/alibi seed 1: complete \w+ \d\.\d{3}", lines[1][9:]), lines
    run_sweep(sweep, output_dir=tmp_path / "out", wandb="disabled", console=Console(file=log))
    assert "1/1 trials and seeds finished" in log.getvalue()  # resumed: nothing left to run


def test_a_pruned_trial_is_really_pruned(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path, encodings=["alibi"], pruner={"type": "threshold", "lower": 2.0}, seeds=[1]
    )
    run_sweep(path, output_dir=tmp_path / "out", wandb="offline")
    storage = SweepStorage(str(tmp_path / "out" / JOURNAL_FILE)).optuna
    search = trials_of(storage, "tiny/copy/alibi")
    assert [t.state for t in search] == [TrialState.PRUNED, TrialState.PRUNED]
    for trial in search:  # stopped at the first report, keyed by training step
        assert list(trial.intermediate_values) == [2]
        assert not (tmp_path / "out" / trial.user_attrs["output_dir"] / "metrics.json").exists()
    assert trials_of(storage, "tiny/copy/alibi/final") == []  # nothing complete to retrain
    trial_runs = [r for r in read_runs(tmp_path / "out") if r.job_type == "trial"]
    assert [r.summary["optuna_state"] for r in trial_runs] == ["pruned", "pruned"]


def test_a_killed_trial_is_retried_and_the_sweep_resumes(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, encodings=["alibi"], seeds=[1], trials=3)
    sweep, text = load_sweep(path)
    out = tmp_path / "out"
    storage = SweepStorage(str(out / JOURNAL_FILE))
    create_studies(storage, sweep, text, out)
    Worker(storage, sweep, out, Tracker("disabled", out)).run(limit=1)
    # a worker that died mid-trial: its trial stays RUNNING under a process that is gone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    study = optuna.load_study(study_name="tiny/copy/alibi", storage=storage.optuna)
    orphan = study.ask({"optim.lr": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)})
    storage.optuna.set_trial_user_attr(
        orphan._trial_id, WORKER_ATTR, worker_id().rsplit(":", 1)[0] + f":{dead}"
    )
    run_sweep(path, output_dir=out, wandb="disabled")
    search = trials_of(storage.optuna, "tiny/copy/alibi")
    assert len(counted(search)) == 3
    failed = [t for t in search if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [orphan.number]
    retried = [t for t in search if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retried) == 1 and retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retried[0].params["optim.lr"] == pytest.approx(orphan.params["optim.lr"])
    assert len(trials_of(storage.optuna, "tiny/copy/alibi/final")) == 1


def _two_workers(tmp_path: Path, storage_url: str | None) -> None:
    path = write_sweep(tmp_path, trials=3, seeds=[1], pruner={"type": "none"})
    out = tmp_path / "out"
    run_sweep(path, output_dir=out, storage_url=storage_url, workers=2, wandb="disabled")
    storage = SweepStorage(storage_url or str(out / JOURNAL_FILE)).optuna
    for encoding in ("sinusoidal", "alibi"):
        search = trials_of(storage, f"tiny/copy/{encoding}")
        assert [t.number for t in search] == [0, 1, 2]  # none lost, none duplicated
        assert all(t.state == TrialState.COMPLETE for t in search)
        final = trials_of(storage, f"tiny/copy/{encoding}/final")
        assert [t.user_attrs["seed"] for t in final] == [1]
    ran = [
        int(m)
        for log in (out / "logs").glob("worker-*.log")
        for m in re.findall(r"ran (\d+) trial", log.read_text())
    ]
    assert len(ran) == 2 and sum(ran) == 8
    # each worker's torch uses its share of the cores, not every core
    share = max(1, (os.cpu_count() or 1) // 2)
    for metrics in out.glob("final/*/*/seed-*/metrics.json"):
        assert json.loads(metrics.read_text())["threads"] == share


def test_two_worker_processes_share_a_journal_file_exactly(tmp_path: Path) -> None:
    _two_workers(tmp_path, None)


@pytest.mark.skipif(
    postgres_server.available() is not None, reason=str(postgres_server.available())
)
def test_two_worker_processes_share_postgresql_exactly(tmp_path: Path) -> None:
    with postgres_server.postgres_server() as url:
        _two_workers(tmp_path, url)


GRID = {
    "optim.lr": {"choices": [1.0e-3, 3.0e-3, 1.0e-2]},
    "optim.weight_decay": {"choices": [0.0, 0.1]},
}
ROPE_BASE = {"choices": [1.0], "when": {"encoding": "rope"}}


def test_a_grid_sweep_tries_every_combination_once_across_two_workers(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, encodings=["alibi"], sampler="grid", search_space=GRID,
                       trials=6, seeds=[1], pruner={"type": "none"})  # fmt: skip
    out = tmp_path / "out"
    run_sweep(path, output_dir=out, workers=2, wandb="disabled")
    search = trials_of(SweepStorage(str(out / JOURNAL_FILE)).optuna, "tiny/copy/alibi")
    assert all(t.state == TrialState.COMPLETE for t in search)
    points = sorted((t.params["optim.lr"], t.params["optim.weight_decay"]) for t in search)
    assert points == [(lr, wd) for lr in (1e-3, 3e-3, 1e-2) for wd in (0.0, 0.1)]


def test_a_sweep_finishes_each_task_before_starting_the_next(tmp_path: Path) -> None:
    reverse = {**TINY["tasks"][0], "name": "reverse",
               "task": {**TINY["tasks"][0]["task"], "class_path": "reverse"}}  # fmt: skip
    path = write_sweep(tmp_path, tasks=[TINY["tasks"][0], reverse], seeds=[1],
                       pruner={"type": "none"})  # fmt: skip
    out = tmp_path / "out"
    run_sweep(path, output_dir=out, wandb="disabled")
    storage = SweepStorage(str(out / JOURNAL_FILE)).optuna
    started = {
        task: [
            t.datetime_start
            for encoding in ("sinusoidal", "alibi")
            for suffix in ("", "/final")
            for t in trials_of(storage, f"tiny/{task}/{encoding}{suffix}")
        ]
        for task in ("copy", "reverse")
    }
    assert len(started["copy"]) == len(started["reverse"]) == 6
    assert max(started["copy"]) < min(started["reverse"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trials": 5}, "sampler is grid with 6 combinations but trials is 5; set trials: 6"),
        ({"search_space": {**GRID, "model.dropout": {"low": 0.0, "high": 0.1}}},
         "search_space model.dropout: the grid sampler needs choices"),
        ({"search_space": {**GRID, "encoding.base": ROPE_BASE}},
         "search_space encoding.base: the grid sampler takes no when conditions"),
        ({"search_space": {}}, "sampler is grid but search_space is empty"),
    ],
)  # fmt: skip
def test_invalid_grid_sweeps_fail_with_one_line(change: dict[str, Any], message: str) -> None:
    doc = copy.deepcopy(TINY) | {"sampler": "grid", "search_space": GRID, "trials": 6} | change
    with pytest.raises(PebenchError, match=re.escape(message)):
        parse_sweep(doc)


def test_conditional_parameters_follow_their_encoding() -> None:
    sweep = parse_sweep(copy.deepcopy(TINY) | {"encodings": ["alibi", "rope"]})
    by_encoding = {p.encoding_label: p for p in plans(sweep)}
    fixed = {"optim.lr": 0.005, "model.dropout": 0.1, "encoding.base": 100.0}
    assert "encoding.base" not in by_encoding["alibi"].suggest(optuna.trial.FixedTrial(fixed))
    params = by_encoding["rope"].suggest(optuna.trial.FixedTrial(fixed))
    doc = by_encoding["rope"].run_config(params, seed=3)
    assert doc["encoding"] == {"class_path": "rope", "init_args": {"base": 100.0}}
    assert doc["optim"]["lr"] == 0.005 and doc["model"]["dropout"] == 0.1 and doc["seed"] == 3


def test_an_encodings_task_args_reach_the_tasks_that_take_them() -> None:
    none_causal = {"class_path": "none", "label": "none_causal", "task_args": {"causal": True}}
    tape = {"name": "parity", "task": {"class_path": "parity_check"}}
    sweep = parse_sweep(copy.deepcopy(TINY) | {
        "tasks": [TINY["tasks"][0], tape], "encodings": ["rope", none_causal],
    })  # fmt: skip
    docs = {p.name: p.run_config({}, seed=1) for p in plans(sweep)}
    assert {n: d["task"]["init_args"].get("causal") for n, d in docs.items()} == {
        "tiny/copy/rope": None, "tiny/copy/none_causal": None,  # a decoder has no such option
        "tiny/parity/rope": None, "tiny/parity/none_causal": True,
    }  # fmt: skip
    assert docs["tiny/parity/none_causal"]["encoding"] == {"class_path": "none", "init_args": {}}


def test_an_encodings_model_args_set_its_runs_model() -> None:
    rand = {"class_path": "rope", "label": "rope_rand",
            "model_args": {"randomized_positions": 64, "randomize_eval": True}}  # fmt: skip
    sweep = parse_sweep(copy.deepcopy(TINY) | {"encodings": ["rope", rand]})
    models = {p.encoding_label: p.run_config({}, seed=1)["model"] for p in plans(sweep)}
    assert models["rope_rand"] == {**TINY["model"], "randomized_positions": 64,
                                   "randomize_eval": True}  # fmt: skip
    assert models["rope"] == TINY["model"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"class_path": "none", "task_arg": {"causal": True}}, "unknown key 'task_arg'"),
        ({"class_path": "none", "task_args": [True]}, "none's task_args must be a mapping"),
        ({"class_path": "rope", "model_args": 3}, "rope's model_args must be a mapping"),
    ],
)
def test_invalid_encoding_entries_fail_with_one_line(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(PebenchError, match=re.escape(message)):
        parse_sweep(copy.deepcopy(TINY) | {"encodings": ["rope", entry]})


def test_a_task_args_option_no_task_takes_is_refused_before_anything_runs(
    tmp_path: Path, capsys: Any
) -> None:
    entry = {"class_path": "alibi", "label": "alibi_c", "task_args": {"casual": True}}
    path = write_sweep(tmp_path, encodings=["sinusoidal", entry])
    assert main(["sweep", str(path), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "alibi_c's task_args option 'casual' is taken by none of its tasks" in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trails": 3}, "unknown setting 'trails'"),
        ({"trials": -1}, "trials must be at least 0"),
        ({"trials": 0}, "trials is 0 (no search) but search_space is not empty"),
        ({"search_space": {"lr": {"low": 1, "high": 2}}}, "must be <section>.<setting>"),
        ({"search_space": {"optim.lr": {"low": 1e-3}}}, "give either low and high"),
        ({"train": {"max_steps": 4}}, "pruning needs intermediate validation"),
        ({"encodings": ["rope", "rope"]}, "appears twice"),
        ({"pruner": {"type": "sometimes"}}, "'sometimes' is not one of"),
        (
            {"search_space": {"optim.lr": {"low": 1e-3, "high": 1e-2, "when": {"encodng": "x"}}}},
            "when names 'encodng', which is neither task, encoding nor another searched key",
        ),
        (
            {"tasks": [{**TINY["tasks"][0], "skip_encodings": ["sinusoidal", "alibi"]}]},
            "every task skips every encoding",
        ),
    ],
)
def test_invalid_sweep_files_fail_with_one_line(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PebenchError, match=re.escape(message)) as info:
        parse_sweep(copy.deepcopy(TINY) | change)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tasks": [{**TINY["tasks"][0], "metric": "ood_exact_mach"}]},
         "metric 'ood_exact_mach' is not one the task reports"),
        ({"search_space": {"model.num_heads": {"choices": [2, 3]}}},
         "d_model 16 is not divisible by num_heads 3"),
        ({"search_space": {"model.dropout": {"low": 0, "high": 1}}},
         "model.dropout: low/high are integers but model.dropout is a float setting"),
        ({"train": {**TINY["train"], "devices": 2}},
         "train.devices × train.num_nodes is 2, but a sweep trial runs in its worker"),
    ],
)  # fmt: skip
def test_pre_flight_catches_what_would_fail_every_trial(
    tmp_path: Path, capsys: Any, change: dict[str, Any], message: str
) -> None:
    path = write_sweep(tmp_path, **change)
    assert main(["sweep", str(path), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_sweep_command_errors_are_one_line_and_write_nothing(tmp_path: Path, capsys: Any) -> None:
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = write_sweep(tmp_path, encodings=["nope"])
    assert main(["sweep", str(bad), "--output-dir", str(tmp_path / "out")]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_changed_definition_under_the_same_name_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    storage = SweepStorage(str(out / JOURNAL_FILE))
    sweep, text = load_sweep(write_sweep(tmp_path))
    create_studies(storage, sweep, text, out)
    with pytest.raises(PebenchError, match="different definition"):
        create_studies(storage, sweep, text.replace("trials: 2", "trials: 5"), out)


def test_a_sweep_grows_by_added_encodings_and_tasks_and_keeps_its_studies(
    tmp_path: Path, capsys: Any
) -> None:
    """Adding encodings or tasks (e.g. a newly registered encoding to the reference sweep)
    extends a started sweep; any other change is still refused."""
    out = tmp_path / "out"
    storage = SweepStorage(str(out / JOURNAL_FILE))
    sweep, text = load_sweep(write_sweep(tmp_path))
    create_studies(storage, sweep, text, out)
    study = optuna.load_study(study_name="tiny/copy/alibi", storage=storage.optuna)
    study.add_trial(optuna.trial.create_trial(value=0.5, params={}, distributions={}))
    reverse = copy.deepcopy(TINY["tasks"][0]) | {"name": "reverse", "skip_encodings": ["rope"]}
    grown = write_sweep(tmp_path, encodings=["sinusoidal", "rope", "alibi"],
                        tasks=[TINY["tasks"][0], reverse])  # fmt: skip
    sweep, text = load_sweep(grown)
    create_studies(storage, sweep, text, out)
    assert "grows by encodings rope and tasks reverse" in capsys.readouterr().err
    names = optuna.get_all_study_names(storage.optuna)
    assert {"tiny/copy/rope", "tiny/reverse/alibi", "tiny/reverse/sinusoidal"} <= set(names)
    assert "tiny/reverse/rope" not in names  # skipped there
    kept = optuna.load_study(study_name="tiny/copy/alibi", storage=storage.optuna)
    assert [t.value for t in kept.get_trials()] == [0.5]
    create_studies(storage, sweep, text, out)  # the grown definition is now the stored one
    with pytest.raises(PebenchError, match="only adding encodings or tasks"):
        bigger = copy.deepcopy(yaml.safe_load(text)) | {"trials": 5}
        create_studies(storage, sweep, yaml.safe_dump(bigger), out)
    assert extension(TINY, TINY | {"encodings": ["sinusoidal"]}) is None  # removing is a change
    added = copy.deepcopy(TINY) | {"encodings": ["sinusoidal", "alibi", "rope"], "seeds": [1]}
    assert extension(TINY, added) is None  # an addition with another change


def test_the_reference_sweep_runs_every_built_in_encoding() -> None:
    """Issue 15's reference covers every registered encoding: a new one is added to
    configs/sweeps/reference.yaml, and the started sweep grows to include it."""
    from pebench import encodings

    sweep, _ = load_sweep("configs/sweeps/reference.yaml")
    ran = {encodings.get(e.class_path) for e in sweep.encodings}
    built_in = {
        cls
        for cls in encodings.available().values()
        if cls.__module__.startswith("pebench.encodings.")
    }
    missing = sorted(cls.name for cls in built_in - ran)
    assert not missing, f"add {missing} to the encodings of configs/sweeps/reference.yaml"


@pytest.mark.parametrize("preset", sorted(Path("configs/sweeps").glob("*.yaml")), ids=str)
def test_sweep_presets_are_valid(preset: Path) -> None:
    scales = yaml.safe_load(preset.read_text()).get("scales") or {None: None}
    for scale in scales:  # every scale of the file
        sweep, _ = load_sweep(preset, scale)
        for plan in plans(sweep):
            plan.check()  # parses each (task, encoding) run configuration, builds the encoding
        check_task_args(sweep)
        assert len({p.name for p in plans(sweep)}) == len(plans(sweep))


def test_a_scale_overrides_the_file_and_names_the_sweep(tmp_path: Path) -> None:
    doc = copy.deepcopy(TINY) | {
        "scale": "small",
        "scales": {
            "small": {"model": {"d_model": 8}, "train": {"max_steps": 2}},
            "paper": {"model": {"num_layers": 12}, "trials": 5},
        },
    }
    path = tmp_path / "scaled.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    small, text = load_sweep(path)
    assert small.name == "tiny-small" and small.model["d_model"] == 8
    assert small.model["num_layers"] == 1 and small.train["max_steps"] == 2  # merged, not replaced
    assert small.train["eval_every"] == 2 and "scales" not in yaml.safe_load(text)
    paper, _ = load_sweep(path, "paper")
    assert paper.name == "tiny-paper" and paper.trials == 5 and paper.model["num_layers"] == 12
    with pytest.raises(PebenchError, match="unknown scale 'huge'; valid scales: small, paper"):
        load_sweep(path, "huge")
    with pytest.raises(PebenchError, match="defines no scales"):
        load_sweep(write_sweep(tmp_path), "paper")


def test_worker_threads_share_the_cores_unless_pebench_num_threads_says(monkeypatch) -> None:
    import os

    from pebench.benchmark.sweep.launch import worker_threads

    monkeypatch.delenv("PEBENCH_NUM_THREADS", raising=False)
    cores = os.cpu_count() or 1
    assert worker_threads(1) == cores and worker_threads(cores * 2) == 1
    monkeypatch.setenv("PEBENCH_NUM_THREADS", "1")
    assert worker_threads(1) == 1  # e.g. a second sweep sharing the machine


def test_a_sweep_file_is_read_once_and_its_plans_built_once(tmp_path: Path, monkeypatch) -> None:
    """The file is read once into a config carrying its scale; its studies are planned once."""
    from pebench.benchmark.sweep.config import EncodingEntry, load_sweep
    from pebench.benchmark.sweep.studies import plans

    path = write_sweep(tmp_path, encodings=["rope", {"class_path": "alibi", "label": "alibi2"}])
    reads: list[str] = []
    original = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self.name)
                        or original(self, *a, **k))  # fmt: skip
    sweep, _ = load_sweep(path)
    assert [name for name in reads if name.endswith(".yaml")] == [path.name]
    assert sweep.scale is None
    assert sweep.encodings[1] == EncodingEntry("alibi", {}, "alibi2")
    assert [p.encoding_label for p in plans(sweep)] == ["rope", "alibi2"]
    assert plans(sweep)[0] is plans(sweep)[0]
