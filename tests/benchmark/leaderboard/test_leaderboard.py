"""Leaderboard columns and labels, from fixtures (no sweep needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pebench.benchmark.leaderboard.table import Cell, Entry, rows, sweep_columns, task_columns
from pebench.benchmark.run.record import RunRecord


def record(doc: dict) -> RunRecord:
    """A run's record from the given ``metrics.json`` content (what ran filled in)."""
    return RunRecord.from_json({"task": "copy", "encoding": "rope", "seed": 1, **doc})


def plan(metric: str) -> SimpleNamespace:
    return SimpleNamespace(metric=metric, direction="maximize", task=SimpleNamespace(name="copy"))


@pytest.mark.parametrize("metric", ["ood_exact_match", "id_exact_match"])
def test_length_tasks_show_id_and_rank_on_ood_whatever_selects(metric: str) -> None:
    columns = task_columns(plan(metric), [record({"summary": {}})])
    assert [(c.label, c.key, c.primary) for c in columns] == [
        ("ID", "id_exact_match", False),
        ("OOD", "ood_exact_match", True),
    ]


def test_other_validation_metrics_are_one_primary_column() -> None:
    (column,) = task_columns(plan("accuracy"), [record({"summary": {}})])
    assert column.key == "accuracy" and column.primary


def test_variants_recorded_by_runs_are_shown_next_to_the_name() -> None:
    columns = task_columns(plan("ood_exact_match"), [record({"summary": {}})])
    plain = Entry("rope", cells={c.header: Cell([0.5]) for c in columns})
    variant = Entry("alibi", cells={c.header: Cell([0.4]) for c in columns})
    variant.variants.add("directional")
    _, body = rows(columns, [plain, variant])
    assert [row[0] for row in body] == ["rope", "alibi (directional)"]


def test_language_models_show_loss_at_one_four_and_sixteen_times_the_context() -> None:
    lm = SimpleNamespace(metric="loss", direction="minimize", task=SimpleNamespace(name="lm"))
    summary = {"loss": 1.5, **{f"loss_{n}": 1.5 for n in (64, 128, 256, 512, 1024)}}
    columns = task_columns(lm, [record({"summary": summary, "train_max_length": 64})])
    assert [(c.label, c.key, c.primary) for c in columns] == [
        ("loss 1×", "loss_64", False),
        ("loss 4×", "loss_256", False),
        ("loss 16×", "loss_1024", True),
    ]
    assert all(c.direction == "minimize" for c in columns)
    # another longest multiple (the reference sweep evaluates 1× and 8×) is shown and ranked
    summary = {"loss": 1.5, "loss_64": 1.5, "loss_512": 2.5, "loss_100": 2.0}
    columns = task_columns(lm, [record({"summary": summary, "train_max_length": 64})])
    assert [(c.label, c.key, c.primary) for c in columns] == [
        ("loss 1×", "loss_64", False),
        ("loss 8×", "loss_512", True),
    ]


def test_a_partly_run_task_shows_its_real_columns_without_the_placeholder() -> None:
    def study(encoding: str, task: str, metric: str) -> SimpleNamespace:
        named = SimpleNamespace(name=task)
        return SimpleNamespace(metric=metric, direction="minimize", task=named, encoding=encoding)

    summary = {"loss": 1.5, "loss_64": 1.5, "loss_512": 2.5}
    run = record({"summary": summary, "train_max_length": 64})
    studies = [
        (study("none", "lm", "loss"), []),  # not finished yet, listed first
        (study("rope", "lm", "loss"), [run]),
        (study("rope", "sst2", "accuracy"), []),  # no study of this task has finished
    ]
    by_task = sweep_columns(studies)
    assert list(by_task) == ["lm", "sst2"]
    assert [c.header for c in by_task["lm"]] == ["lm loss 1×", "lm loss 8×"]
    assert [c.header for c in by_task["sst2"]] == ["sst2 val accuracy"]


def test_finished_runs_without_a_score_read_n_a_not_not_run_yet() -> None:
    assert Cell(expected=3).text() == "–"
    assert Cell(expected=3, unscorable=True).text(compact=True) == "n/a"
    assert Cell([1.5], [1], expected=3, unscorable=False).text().startswith("1.500")


def many_tasks() -> tuple[list, list]:
    from pebench.benchmark.leaderboard.table import Column, _rank

    columns = [
        Column(f"task_number_{i}", "OOD", "summary", "ood_exact_match", "maximize", primary=True)
        for i in range(6)
    ]
    names = ["rope", "alibi", "a_very_long_encoding_label_that_does_not_fit"]
    entries = []
    for k, name in enumerate(names):
        values = [0.9 - 0.3 * k + 0.01 * s for s in range(3)]
        cells = {c.header: Cell(list(values), [1, 2, 3]) for c in columns}
        entries.append(Entry(name, cells=cells))
    _rank(columns, entries)
    return columns, entries


def test_terminal_leaderboard_fits_80_columns_without_cutting_names() -> None:
    from rich.console import Console

    from pebench.benchmark.leaderboard.render import terminal_tables

    columns, entries = many_tasks()
    tables = terminal_tables("pebench leaderboard: wide", columns, entries, width=80)
    assert len(tables) > 1  # six tasks do not fit one 80-column table
    console = Console(width=80, record=True, color_system=None)
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "…" not in text
    # folded over several lines of the name column, never cut with an ellipsis
    names = "".join(line.split("│")[1].strip() for line in text.splitlines() if "│" in line)
    assert "a_very_long_encoding_label_that_does_not_fit" in names
    for column in columns:  # stacked: task_ / number_ / 0 / OOD
        assert column.stacked_header.splitlines() == ["task_", "number_", column.task[-1], "OOD"]
        assert all(line in text for line in column.stacked_header.splitlines())


def test_separated_encodings_get_significance_marks_and_rank_intervals(tmp_path) -> None:
    from pebench.benchmark.leaderboard.render import write_files

    columns, entries = many_tasks()
    header, body = rows(columns, entries)
    assert body[0][1].endswith("*") and not body[2][1].endswith("*")  # best vs far behind
    assert body[0][len(columns) + 1].startswith("1.00 [1.0, 1.0]")
    paths = write_files(tmp_path, "t", (header, body), entries, columns)
    md = paths["md"].read_text()
    assert "**0.910 ± 0.025**\\*" in md and "Holm" in md
    data = __import__("json").loads(paths["json"].read_text())
    cell = data["rows"][0]["metrics"][columns[0].header]
    assert cell["tied_with_best"] and cell["seeds"] == [1, 2, 3] and len(cell["ci95"]) == 2
    compact = paths["compact"].read_text().splitlines()
    assert compact[0] == "| encoding | " + " | ".join(c.header for c in columns) + " | mean rank |"
    assert compact[2].startswith("| rope | **0.91±0.02**\\* |")  # the best, in bold
    assert compact[4].startswith("| a_very_long_encoding_label_that_does_not_fit | 0.31±0.02 |")


def committed_copy(tmp_path, name: str = "recent-encodings"):
    """results/<name> as committed (HEAD, so a sweep writing into the working tree meanwhile
    does not matter): the pristine files under ``tmp_path/head`` and a copy to rebuild."""
    import io
    import shutil
    import subprocess
    import tarfile
    from pathlib import Path

    root = Path(__file__).parents[3]
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD", f"results/{name}"],
        cwd=root, capture_output=True, check=False,
    )  # fmt: skip
    if archive.returncode != 0:
        pytest.skip(f"results/{name} is not committed in this checkout")
    head = tmp_path / "head"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(head, filter="data")
    source = head / "results" / name
    copy = tmp_path / name
    shutil.copytree(source, copy)
    return source, copy


def committed_file(relative: str) -> bytes:
    """A file as committed (HEAD), by its path from the repository root."""
    import os
    import subprocess
    from pathlib import Path

    return subprocess.run(
        ["git", "show", f"HEAD:{os.path.normpath(relative)}"],
        cwd=Path(__file__).parents[3], capture_output=True, check=True,
    ).stdout  # fmt: skip


@pytest.mark.parametrize(
    ("results", "tables"),
    [
        ("recent-encodings", ["leaderboard.md", "leaderboard.csv"]),
        (
            "reference",
            [
                "leaderboard.md",
                "leaderboard.csv",
                "leaderboard_compact.md",
                "leaderboard_ood_selected.md",
            ],
        ),
    ],
)
def test_committed_results_regenerate_byte_identical_tables(
    tmp_path, results: str, tables: list[str]
) -> None:
    """The leaderboard of a committed results directory is rebuilt from its journal, run
    metrics and configs alone."""
    from pebench.benchmark.cli import main

    source, copy = committed_copy(tmp_path, results)
    recorded = __import__("json").loads((source / "leaderboard.json").read_text())
    if "budget_of" in recorded:  # the other budget it compares with, at the same relative place
        other = (copy / recorded["budget_of"]).resolve()
        other.parent.mkdir(parents=True, exist_ok=True)
        other.write_bytes(committed_file(f"results/{results}/{recorded['budget_of']}"))
    for name in tables:
        (copy / name).unlink()
    assert main(["leaderboard", "--output-dir", str(copy), "--wandb", "disabled"]) == 0
    for name in tables:
        assert (copy / name).read_bytes() == (source / name).read_bytes(), name


def test_missing_and_unreadable_results_are_reported_not_fatal(tmp_path, capsys) -> None:
    from pebench.benchmark.cli import main

    _, copy = committed_copy(tmp_path)
    (copy / "final/copy/fox/seed-1/metrics.json").unlink()
    (copy / "final/copy/rope/seed-2/metrics.json").write_text("{not json")
    assert main(["leaderboard", "--output-dir", str(copy), "--wandb", "disabled"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "run final/copy/fox/seed-1 (recent-encodings/copy/fox/final) has a missing" in out
    assert "final/copy/rope/seed-2 (recent-encodings/copy/rope/final) has a unreadable" in out
    md = (copy / "leaderboard.md").read_text()
    fox = next(line for line in md.splitlines() if line.startswith("| fox |"))
    assert "(1/2)" in fox and "Missing result:" in md


def test_run_length_table_names_its_split_and_dashes_empty_buckets() -> None:
    from rich.console import Console

    from pebench.benchmark.run.report import length_table

    run = record({
        "per_length": {
            "1-5": {"accuracy": 0.8, "support": 10},
            "6-10": {"accuracy": 0.0, "support": 0},
        },
    })  # fmt: skip
    console = Console(width=80, record=True, color_system=None)
    console.print(length_table([run]))
    text = console.export_text()
    assert "validation accuracy by input length" in " ".join(text.split())
    assert "0.800" in text and "0.000" not in text
    assert any(line.strip("│ ").startswith("6-10") and "–" in line for line in text.splitlines())


def test_budget_comparison_reports_kendall_tau_and_is_remembered(tmp_path) -> None:
    """--budget-of adds Kendall's tau per task under the table; a later plain rebuild keeps it
    (the reference leaderboard regenerates with its notes), --budget-of none drops it."""
    import json

    from scipy import stats

    from pebench.benchmark.cli import main

    _, copy = committed_copy(tmp_path)
    other = tmp_path / "other-budget"
    other.mkdir()
    board = json.loads((copy / "leaderboard.json").read_text())
    column = next(c["header"] for c in board["columns"] if c["primary"])
    means = {r["encoding"]: r["metrics"][column]["mean"] for r in board["rows"]}
    shuffled = dict(zip(means, [means[n] for n in reversed(list(means))], strict=True))
    for row in board["rows"]:  # the other budget ranks the encodings in reverse
        row["metrics"][column]["mean"] = shuffled[row["encoding"]]
    (other / "leaderboard.json").write_text(json.dumps(board))
    names = sorted(means)
    expected = stats.kendalltau([means[n] for n in names], [shuffled[n] for n in names])
    leaderboard = ["leaderboard", "--output-dir", str(copy), "--wandb", "disabled"]

    assert main([*leaderboard, "--budget-of", str(other)]) == 0
    note = "Budget sensitivity, copy: Kendall's tau between this ranking and other-budget = "
    note += f"{expected.statistic:.2f} (p = {expected.pvalue:.3f}, {len(names)} encodings)."
    assert note in (copy / "leaderboard.md").read_text()
    assert expected.statistic < 0
    assert main(leaderboard) == 0  # remembered
    assert note in (copy / "leaderboard.md").read_text()
    assert main([*leaderboard, "--budget-of", "none"]) == 0
    assert "Budget sensitivity" not in (copy / "leaderboard.md").read_text()
    assert main(leaderboard) == 0  # and stays forgotten
    assert "Budget sensitivity" not in (copy / "leaderboard.md").read_text()
    (other / "leaderboard.json").write_text(json.dumps({**board, "rows": board["rows"][:1]}))
    assert main([*leaderboard, "--budget-of", str(other)]) == 0  # one encoding in common
    md = (copy / "leaderboard.md").read_text()
    assert "Budget sensitivity, copy: not measured yet (1 encoding(s) ranked both" in md
    assert "nan" not in md


def test_ood_selected_view_sets_the_oracle_choice_beside_the_protocol_one(tmp_path) -> None:
    """leaderboard_ood_selected.md scores the trial selected on ID validation and the trial
    with the best OOD validation score, both on OOD validation; the leaderboard is unchanged."""
    import json

    from pebench.benchmark.cli import main

    _, copy = committed_copy(tmp_path, "reference")
    leaderboard_command = ["leaderboard", "--output-dir", str(copy), "--wandb", "disabled"]
    leaderboard_command += ["--budget-of", "none"]
    assert main(leaderboard_command) == 0
    leaderboard = (copy / "leaderboard.md").read_text()
    trials = sorted((copy / "trials" / "copy" / "alibi").glob("trial-*/metrics.json"))
    docs = [json.loads(path.read_text()) for path in trials]
    ids = [doc["summary"]["id_exact_match"] for doc in docs]
    assert len(docs) == 3 and len(set(ids)) == 3  # a clear protocol choice
    selected = ids.index(max(ids))
    for k, (path, doc) in enumerate(zip(trials, docs, strict=True)):
        # the protocol's choice gets the worst OOD score, another trial the best
        doc["summary"]["ood_exact_match"] = 0.125 if k == selected else 0.5 + 0.25 * k
        path.write_text(json.dumps(doc))
    assert main(leaderboard_command) == 0
    view = (copy / "leaderboard_ood_selected.md").read_text()
    assert "oracle, not the leaderboard" in view
    header = next(line for line in view.splitlines() if line.startswith("| encoding |"))
    assert header.split(" | ")[1:3] == ["copy ID-selected", "copy OOD-selected"]
    alibi = next(line for line in view.splitlines() if line.startswith("| alibi |"))
    oracle = max(0.5 + 0.25 * k for k in range(3) if k != selected)
    assert alibi.split(" | ")[1:3] == ["0.12", f"{oracle:.2f}"]
    assert (copy / "leaderboard.md").read_text() == leaderboard  # final seeds, untouched


def one_task(seeds: int) -> tuple[list, list]:
    """A one-task length sweep (ID and OOD columns) with ``seeds`` seeds per encoding."""
    from pebench.benchmark.leaderboard.table import _rank

    columns = task_columns(plan("id_exact_match"), [record({"summary": {}})])
    entries = []
    for k, name in enumerate(["rope", "alibi"]):
        cells = {
            c.header: Cell([0.9 - 0.4 * k + 0.01 * s for s in range(seeds)], list(range(seeds)))
            for c in columns
        }
        entries.append(Entry(name, cells=cells))
        entries[-1].throughput_devices.add("cpu")
    _rank(columns, entries)
    return columns, entries


def test_one_seed_shows_n_1_without_interval_or_marks() -> None:
    columns, entries = one_task(seeds=1)
    _, body = rows(columns, entries)
    assert body[0][1:3] == ["0.900 (n=1)", "0.900 (n=1)"]
    assert all("±" not in cell and not cell.endswith("*") for row in body for cell in row[1:3])
    assert Cell([0.5], [1], expected=3).text(compact=True) == "0.50 (1/3)"


def test_markdown_tables_render_as_written_in_commonmark(tmp_path) -> None:
    """Tied cells are bold with a literal mark; no stray asterisks in the rendered HTML."""
    from markdown_it import MarkdownIt

    from pebench.benchmark.leaderboard.render import write_files

    columns, entries = many_tasks()
    paths = write_files(tmp_path, "t", rows(columns, entries), entries, columns)
    renderer = MarkdownIt("commonmark").enable("table")
    for name in ("md", "compact"):
        rendered = renderer.render(paths[name].read_text())
        assert "**" not in rendered, name
        assert "<strong>0.91" in rendered and "</strong>*" in rendered, name


def test_html_page_shows_code_and_left_aligns_names(tmp_path) -> None:
    from pebench.benchmark.leaderboard.render import write_files

    columns, entries = one_task(seeds=3)
    page = write_files(tmp_path, "t", rows(columns, entries), entries, columns)["html"]
    text = page.read_text()
    assert "`" not in text and "<code>none</code>" in text
    assert "tbody th{position:sticky;left:0;background:#fff;z-index:1;text-align:left" in text


def test_terminal_shows_id_beside_ood_when_there_is_room() -> None:
    from rich.console import Console

    from pebench.benchmark.leaderboard.render import terminal_tables

    columns, entries = one_task(seeds=3)
    console = Console(width=80, record=True, color_system=None)
    (table,) = terminal_tables("t", columns, entries, width=80)
    console.print(table)
    text = console.export_text()
    assert "ID" in text and "OOD" in text and text.count("0.51±0.02") == 2


def test_tokens_per_s_says_where_it_was_measured(tmp_path) -> None:
    from pebench.benchmark.leaderboard.render import throughput_note, write_files

    columns, entries = one_task(seeds=3)
    assert "final runs (cpu;" in throughput_note(entries)
    assert "`pebench bench` measurement per encoding on NVIDIA H200" in throughput_note(
        entries, "NVIDIA H200"
    )
    md = write_files(tmp_path, "t", rows(columns, entries), entries, columns)["md"].read_text()
    assert "Tokens/s: training throughput inside the final runs (cpu;" in md
