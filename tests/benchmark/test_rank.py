"""``pebench rank``: one encoding against a finished reference, without touching it."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from pebench.benchmark.cli import main
from pebench.benchmark.cli.sweep import run_sweep
from pebench.benchmark.leaderboard.significance import Comparison, paired_comparisons
from pebench.benchmark.rank import Reference, ranked_definition, task_line
from pebench.benchmark.sweep.config import load_sweep
from pebench.benchmark.sweep.launch import create_studies
from pebench.benchmark.sweep.progress import SweepProgress
from pebench.benchmark.sweep.protocol import PROTOCOL_FILE, write_protocol
from pebench.benchmark.sweep.storage import JOURNAL_FILE, SweepStorage

LENGTHS = {"train_lengths": [1, 3], "eval_lengths": [1, 4], "eval_samples": 2}
REFERENCE: dict[str, Any] = {
    "name": "tinyref",
    "encodings": ["sinusoidal", "alibi"],
    "model": {"d_model": 16, "num_layers": 1, "num_heads": 2},
    "train": {"max_steps": 20, "batch_size": 4, "eval_every": 10, "accelerator": "cpu"},
    "search_space": {
        "optim.lr": {"low": 1.0e-3, "high": 1.0e-2, "log": True},
        "model.dropout": {"choices": [0.0], "when": {"encoding": ["alibi"]}},
    },
    "trials": 1,
    "pruner": {"type": "none"},
    "seeds": [1, 2],
    "scale": "small",
    "scales": {
        "small": {
            "tasks": [
                {"name": name, "metric": "id_token_accuracy", "skip_encodings": skips,
                 "task": {"class_path": name, "init_args": LENGTHS}}
                for name, skips in (("copy", []), ("reverse", ["sinusoidal"]))
            ]  # fmt: skip
        }
    },
}


def write(directory: Path, **changes: Any) -> Path:
    doc = copy.deepcopy(REFERENCE)
    doc.update(changes)
    path = directory / f"{doc['name']}-{len(doc['encodings'])}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rank")
    run_sweep(write(root), output_dir=root / "ref", wandb="disabled")
    return root / "ref"


@pytest.fixture(scope="module")
def ranked(reference: Path) -> Path:
    before = digest(reference)
    out = reference.parent / "rope-ranked"
    args = ["rank", "rope", "--reference", str(reference), "--output-dir", str(out)]
    assert main([*args, "--wandb", "disabled"]) == 0
    assert digest(reference) == before  # the reference is only read
    return out


def rows(leaderboard: Path) -> dict[str, Any]:
    data = json.loads(leaderboard.read_text())
    return {r["encoding"]: r for r in data["rows"]}


def test_ranking_inserts_a_marked_row_and_writes_the_summary(ranked: Path) -> None:
    table = rows(ranked / "leaderboard.json")
    assert set(table) == {"sinusoidal", "alibi", "rope"}
    assert table["rope"].get("new") is True and "new" not in table["alibi"]
    assert all(r["mean_rank"] is not None for r in table.values())
    assert "| rope (new) |" in (ranked / "leaderboard.md").read_text()
    summary = (ranked / "summary.md").read_text()
    overall, *tasks = summary.split("\n\n")[1].splitlines()
    assert overall.startswith("- **Overall**: place ") and " of 3 encodings, mean rank " in overall
    assert [t.split("**")[1] for t in tasks] == ["copy OOD", "reverse OOD"]
    with (ranked / "comparisons.csv").open() as handle:
        found = list(csv.DictReader(handle))
    assert {(r["column"], r["encoding"]) for r in found} == {
        ("copy OOD", "sinusoidal"), ("copy OOD", "alibi"), ("reverse OOD", "alibi")
    }
    # only the new encoding's runs are in the ranking's own storage
    storage = SweepStorage(str(ranked / JOURNAL_FILE)).optuna
    studies = {s for s in optuna.get_all_study_names(storage) if "/" in s}
    assert studies == {f"tinyref-small/{t}/rope{f}" for t in ("copy", "reverse")
                       for f in ("", "/final")}  # fmt: skip


def test_the_merged_table_equals_a_sweep_that_held_every_encoding(
    ranked: Path, reference: Path
) -> None:
    full = reference.parent / "full"
    path = write(reference.parent, encodings=["sinusoidal", "alibi", "rope"])
    run_sweep(path, output_dir=full, wandb="disabled")

    def stats(row: dict[str, Any]) -> tuple:
        return row["metrics"], row["mean_rank"], row["mean_rank_ci95"]

    merged, whole = rows(ranked / "leaderboard.json"), rows(full / "leaderboard.json")
    assert {k: stats(v) for k, v in merged.items()} == {k: stats(v) for k, v in whole.items()}


def test_leaderboard_rebuilds_a_ranking(ranked: Path, capsys: Any) -> None:
    before = (ranked / "leaderboard.md").read_text()
    (ranked / "summary.md").unlink()
    assert main(["leaderboard", "--output-dir", str(ranked), "--wandb", "disabled"]) == 0
    assert (ranked / "leaderboard.md").read_text() == before
    assert (ranked / "summary.md").is_file()


def refused(args: list[str], capsys: Any) -> str:
    assert main([*args, "--wandb", "disabled"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pebench: error:") and len(err.splitlines()) == 1, err
    return err


def test_unfair_comparisons_are_refused_with_one_line(
    reference: Path, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    rank = ["rank", "--output-dir", str(out)]
    err = refused([*rank, "alibi", "--reference", str(reference)], capsys)
    assert "already has a row 'alibi'" in err and "--label" in err
    err = refused([*rank, "rope", "--reference", str(tmp_path / "nowhere")], capsys)
    assert "does not exist" in err
    err = refused([*rank, "rope", "--reference", str(reference), "--scale", "full"], capsys)
    assert "scale 'small', not 'full'" in err

    other = tmp_path / "other-protocol"
    shutil.copytree(reference, other)
    fingerprint = json.loads((other / PROTOCOL_FILE).read_text())
    (other / PROTOCOL_FILE).write_text(json.dumps({**fingerprint, "protocol": 0}))
    err = refused([*rank, "rope", "--reference", str(other)], capsys)
    assert "protocol 0" in err and "not comparable" in err
    (other / PROTOCOL_FILE).write_text(json.dumps({**fingerprint, "definition_sha256": "0"}))
    err = refused([*rank, "rope", "--reference", str(other)], capsys)
    assert "not the one its protocol.json recorded" in err
    (other / PROTOCOL_FILE).unlink()
    assert "has no protocol.json" in refused([*rank, "rope", "--reference", str(other)], capsys)
    assert not out.exists()


def test_an_incomplete_reference_is_refused(tmp_path: Path, capsys: Any) -> None:
    sweep, text = load_sweep(write(tmp_path))
    root = tmp_path / "started"
    create_studies(SweepStorage(str(root / JOURNAL_FILE)), sweep, text, root)
    write_protocol(root, text, "small")
    err = refused(["rank", "rope", "--reference", str(root)], capsys)
    assert "is incomplete: study tinyref-small/copy/sinusoidal has finished 0 of 1" in err


def test_tasks_the_encoding_cannot_run_are_skipped_with_the_reason(tmp_path: Path) -> None:
    doc = load_sweep(write(tmp_path))[0]
    text = yaml.safe_load(load_sweep(write(tmp_path))[1])
    encoder = {"name": "copy_encoder", "metric": "id_token_accuracy",
               "task": {"class_path": "copy", "init_args": {**LENGTHS, "formulation": "encoder"}}}
    text["tasks"].append(encoder)  # fmt: skip
    reference = Reference(tmp_path, doc, text, None, "small")
    ranked_doc, skipped = ranked_definition(reference, "none", "none")
    assert list(skipped) == ["copy_encoder"]
    assert "cannot be used in a bidirectional encoder" in skipped["copy_encoder"]
    assert ranked_doc["encodings"] == ["none"]
    assert ranked_doc["tasks"][-1]["skip_encodings"] == ["none"]
    # a search-space entry for other encodings only is dropped, the rest kept
    assert list(ranked_doc["search_space"]) == ["optim.lr"]


def test_an_interrupted_ranking_resumes(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    out = tmp_path / "interrupted"
    args = ["rank", "rope", "--reference", str(reference), "--output-dir", str(out),
            "--wandb", "disabled"]  # fmt: skip
    ended = SweepProgress.trial_ended

    def stop_after_two(self: SweepProgress, *a: Any, **k: Any) -> None:
        ended(self, *a, **k)
        self.stopped = getattr(self, "stopped", 0) + 1
        if self.stopped == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(SweepProgress, "trial_ended", stop_after_two)
    assert main(args) == 130
    assert "re-run the same command to resume" in capsys.readouterr().err
    monkeypatch.setattr(SweepProgress, "trial_ended", ended)
    assert main(args) == 0
    storage = SweepStorage(str(out / JOURNAL_FILE)).optuna
    for task in ("copy", "reverse"):
        for suffix, wanted in (("", 1), ("/final", 2)):
            trials = optuna.load_study(
                study_name=f"tinyref-small/{task}/rope{suffix}", storage=storage
            ).get_trials()
            assert sum(t.state == TrialState.COMPLETE for t in trials) == wanted
    assert rows(out / "leaderboard.json")["rope"]["mean_rank"] is not None
    # another encoding into the same directory is refused
    err = refused(["rank", "t5", "--reference", str(reference), "--output-dir", str(out)], capsys)
    assert "holds the ranking of 'rope'" in err


def test_paired_comparisons_holm_correct_and_say_which_way() -> None:
    scores = {
        "new": {1: 0.9, 2: 0.8, 3: 0.85},
        "worse": {1: 0.1, 2: 0.12, 3: 0.05},
        "same": {1: 0.88, 2: 0.83, 3: 0.84},
        "one_seed": {1: 0.2},
    }
    found = {c.other: c for c in paired_comparisons(scores, "new", "maximize")}
    assert found["worse"].verdict == "better" and found["worse"].p_holm >= found["worse"].p
    assert found["same"].verdict == "tied"
    assert found["one_seed"].verdict == "tied" and found["one_seed"].p == 1.0
    flipped = {c.other: c for c in paired_comparisons(scores, "new", "minimize")}
    assert flipped["worse"].verdict == "worse"
    line = task_line("copy OOD", list(found.values()))
    assert line.startswith("- **copy OOD**: beats worse (p = ")
    assert line.endswith("; ties with same, one_seed")
    everyone = [Comparison(n, -1.0, 3, 0.001, 0.002, "worse") for n in "abc"]
    assert task_line("dup OOD", everyone) == "- **dup OOD**: loses to every other encoding"
    many = [Comparison(f"e{k}", 1.0, 3, 0.01 * k, 0.01 * k, "better") for k in range(1, 8)]
    many.append(Comparison("level", 0.0, 3, 0.5, 1.0, "tied"))
    assert task_line("x", many) == (
        "- **x**: beats e1 (p = 0.01), e2 (p = 0.02), e3 (p = 0.03), e4 (p = 0.04) and 3 more; "
        "ties with level"
    )


@pytest.mark.slow  # about 12 s: the 24-row leaderboard and its plots
def test_the_committed_example_rebuilds_to_what_it_shows(tmp_path: Path) -> None:
    """examples/rank-learned-alibi, rebuilt from its storage and the committed reference,
    gives the committed leaderboard and summary (so neither drifts from the code)."""
    root = Path(__file__).resolve().parents[2]
    example = root / "examples" / "rank-learned-alibi"
    if not (example / "rank.json").is_file():
        pytest.skip("the worked example is not in this checkout")
    skip = shutil.ignore_patterns("wandb", "logs", "checkpoints", "*.lock")
    copied = tmp_path / "examples" / example.name
    shutil.copytree(example, copied, ignore=skip)
    reference = tmp_path / "results" / "reference-quarter"
    shutil.copytree(root / "results" / "reference-quarter", reference, ignore=skip)
    assert main(["leaderboard", "--output-dir", str(copied), "--wandb", "disabled"]) == 0
    for name in ("summary.md", "leaderboard.md", "comparisons.csv"):
        assert (copied / name).read_text() == (example / name).read_text(), name
