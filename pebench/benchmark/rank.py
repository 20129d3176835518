"""``pebench rank``: one encoding against a committed reference leaderboard.

The reference (e.g. ``results/reference-quarter``) is a finished sweep. Ranking a new
encoding runs exactly that sweep's protocol for the new encoding alone (same tasks, model,
budget, search space, trial count, selection metric and seeds; studies named as the sweep
names them, so their samplers draw what a sweep holding every encoding from the start would
draw) into its own storage, then builds the reference leaderboard with the new row inserted
and marked, and the paired tests of the new row against every reference row.

The reference is only read, from a private copy of its journal: its files stay as they are.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from rich.console import Console

from pebench.benchmark.leaderboard.collect import Source, sources_of
from pebench.benchmark.leaderboard.publish import PublishOptions, publish
from pebench.benchmark.leaderboard.significance import Comparison, paired_comparisons
from pebench.benchmark.leaderboard.table import Column, Entry
from pebench.benchmark.run.tracking import Tracker, resolve_mode
from pebench.benchmark.sweep.config import Param, SweepConfig, build_config, parse_sweep
from pebench.benchmark.sweep.launch import SweepHandle, claim_output_dir, execute, open_sweep
from pebench.benchmark.sweep.protocol import (
    PROTOCOL_FILE,
    PROTOCOL_VERSION,
    definition_hash,
    read_protocol,
)
from pebench.benchmark.sweep.storage import JOURNAL_FILE, SWEEP_ATTR, SweepStorage
from pebench.benchmark.sweep.studies import finished, plans
from pebench.errors import PebenchError

#: what a ranking directory records: the reference, the encoding and the tasks it skips
RANK_FILE = "rank.json"
DEFAULT_ROOT = Path("runs") / "rank"
#: names listed in a sentence of the summary before "and N more"
LISTED = 4


@dataclass
class Reference:
    """A finished reference sweep, opened read-only."""

    root: Path
    sweep: SweepConfig
    doc: dict[str, Any]
    storage: Any
    scale: str | None

    @property
    def labels(self) -> list[str]:
        return self.sweep.labels

    def sources(self) -> list[Source]:
        return [(plan, self.storage, self.root) for plan in plans(self.sweep)]


def open_reference(root: Path, scale: str | None, scratch: Path) -> Reference:
    """Check that ``root`` is a complete reference produced under this pebench's protocol
    (at ``scale`` when given) and open it from a copy of its journal made in ``scratch``."""
    journal = root / JOURNAL_FILE
    if not journal.is_file():
        what = "does not exist" if not root.exists() else f"holds no sweep ({JOURNAL_FILE})"
        raise PebenchError(
            f"reference {root} {what}; give a finished sweep's directory such as "
            f"results/reference-quarter"
        )
    protocol = read_protocol(root)
    if protocol is None:
        raise PebenchError(
            f"reference {root} has no {PROTOCOL_FILE}, so the protocol that produced it is "
            f"unknown; re-run its `pebench sweep` command with --output-dir {root} (it resumes, "
            f"runs nothing new and records it)"
        )
    if protocol.get("protocol") != PROTOCOL_VERSION:
        raise PebenchError(
            f"reference {root} was produced under pebench protocol {protocol.get('protocol')} "
            f"and this pebench runs protocol {PROTOCOL_VERSION}: their results are not "
            f"comparable; re-run the reference with this pebench, or rank with the version "
            f"that produced it"
        )
    if scale is not None and protocol.get("scale") != scale:
        raise PebenchError(
            f"reference {root} was run at scale {protocol.get('scale')!r}, not {scale!r}; drop "
            f"--scale or give the reference produced at {scale!r}"
        )
    copied = scratch / JOURNAL_FILE
    shutil.copyfile(journal, copied)
    storage = JournalStorage(JournalFileBackend(str(copied)))
    name = protocol.get("sweep")
    if name not in optuna.get_all_study_names(storage):
        raise PebenchError(
            f"reference {root}: its {PROTOCOL_FILE} names sweep {name!r}, which its journal "
            f"does not hold; restore the directory (e.g. from git)"
        )
    text = optuna.load_study(study_name=name, storage=storage).user_attrs[SWEEP_ATTR]
    if definition_hash(text) != protocol.get("definition_sha256"):
        raise PebenchError(
            f"reference {root}: the sweep definition in its journal is not the one its "
            f"{PROTOCOL_FILE} recorded; restore the directory (e.g. from git)"
        )
    doc = yaml.safe_load(text)
    reference = Reference(root, parse_sweep(doc, f"reference {root}"), doc, storage,
                          protocol.get("scale"))  # fmt: skip
    missing = unfinished(reference)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise PebenchError(
            f"reference {root} is incomplete: {missing[0]}{more}; finish it by re-running its "
            f"`pebench sweep` command with --output-dir {root}"
        )
    return reference


def unfinished(reference: Reference) -> list[str]:
    """The studies of the reference that still have trials to run, described."""
    sweep, found = reference.sweep, []
    for plan in plans(sweep):
        for name, wanted in ((plan.name, sweep.trials), (plan.final_name, len(sweep.seeds))):
            try:
                study = optuna.load_study(study_name=name, storage=reference.storage)
            except KeyError:
                found.append(f"study {name} was never started")
                continue
            done = sum(finished(t) for t in study.get_trials(deepcopy=False))
            if done < wanted:
                found.append(f"study {name} has finished {done} of {wanted} runs")
    return found


def encoding_entry(name: str, options: dict[str, Any], label: str | None = None) -> tuple[Any, str]:
    """The sweep ``encodings`` entry for ``name`` (registered or dotted path) with its
    ``--encoding.*`` options, and its row label: ``label``, else the name, else (for a dotted
    path) the class's registered ``name`` or its class name."""
    from pebench import encodings

    cls = encodings.get(name)
    if label is None:
        label = name if "." not in name else cls.__dict__.get("name") or cls.__name__
    if not re.fullmatch(r"[\w.+-]+", label):
        raise PebenchError(
            f"row label {label!r} may hold only letters, digits, '_', '-', '+' and '.'; "
            f"choose one with --label"
        )
    if not options and label == name:
        return name, label
    entry: dict[str, Any] = {"class_path": name, "label": label}
    if options:
        entry["init_args"] = dict(options)
    return entry, label


def ranked_definition(
    reference: Reference, entry: Any, label: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The reference's definition with ``entry`` as its only encoding, and the tasks it
    cannot run ({task: why}), which it skips. Search-space entries conditioned on other
    encodings are dropped: they never applied to the new one."""
    doc = copy.deepcopy(reference.doc)
    doc["encodings"] = [entry]
    space = doc.get("search_space") or {}
    doc["search_space"] = {
        key: param for key, param in space.items()
        if build_config(Param, param, f"search_space.{key}").admits("encoding", label)
    }  # fmt: skip
    for task in doc["tasks"]:  # the reference's skips name its own rows, never this one
        task.pop("skip_encodings", None)
    skipped: dict[str, str] = {}
    for plan in plans(parse_sweep(doc, f"{label} on {reference.root}")):
        try:
            plan.check()
        except PebenchError as exc:
            skipped[plan.task.name] = str(exc)
    if len(skipped) == len(doc["tasks"]):
        first = next(iter(skipped.values()))
        raise PebenchError(f"{label} cannot run any task of {reference.root}: {first}")
    for task in doc["tasks"]:
        if task["name"] in skipped:
            task["skip_encodings"] = [label]
    return doc, skipped


def _record(root: Path, reference: Path, entry: Any, label: str) -> dict[str, Any]:
    return {
        "reference": os.path.relpath(reference.resolve(), root.resolve()),
        "encoding": entry,
        "label": label,
    }


def claim(root: Path, record: dict[str, Any], owner: str) -> None:
    """Make ``root`` this ranking's directory (marked as ``owner``'s): new or empty, or one
    holding the same ranking (a resume); anything else is refused before a file is
    written."""
    path = root / RANK_FILE
    if path.is_file():
        held = json.loads(path.read_text())
        if {k: held.get(k) for k in record} != record:
            raise PebenchError(
                f"{root} holds the ranking of {held.get('label')!r} against "
                f"{held.get('reference')!r}, not this one; choose another --output-dir"
            )
        return
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise PebenchError(
            f"{root} already holds files that are not this ranking's; choose an empty or new "
            f"--output-dir"
        )
    claim_output_dir(root, owner)
    path.write_text(json.dumps(record, indent=2) + "\n")


def run_rank(
    encoding: str,
    options: dict[str, Any],
    reference: Path,
    scale: str | None = None,
    output_dir: Path | None = None,
    workers: int = 1,
    gpus: str | None = None,
    wandb: str | None = None,
    console: Console | None = None,
    label: str | None = None,
) -> Path:
    """Rank ``encoding`` against ``reference`` (run or resume its runs, then write the merged
    leaderboard and the summary); returns the output directory."""
    console = console or Console()
    with tempfile.TemporaryDirectory(prefix="pebench-rank-") as scratch:
        ref = open_reference(reference, scale, Path(scratch))
        entry, label = encoding_entry(encoding, options, label)
        if label in ref.labels:
            raise PebenchError(
                f"{reference} already has a row {label!r}; give the new encoding another name "
                f"with --label NAME"
            )
        doc, skipped = ranked_definition(ref, entry, label)
        root = Path(output_dir or DEFAULT_ROOT / f"{label}-vs-{ref.sweep.name}")
        owner = f"rank {label} vs {ref.sweep.name}"
        claim(root, {**_record(root, reference, entry, label), "skipped": skipped}, owner)
        for task, why in skipped.items():
            console.print(f"[yellow]{label} skips {task}[/yellow]: {why}")
        sweep = parse_sweep(doc, f"rank {label}")
        text = yaml.safe_dump(doc, sort_keys=False)
        handle, tracker = execute(
            sweep, text, root, None, workers, gpus, wandb, console, scale=ref.scale,
            owner=owner,
        )  # fmt: skip
        publish_rank(ref, handle, tracker, console, label, skipped)
    return root


def republish(root: Path, wandb: str | None = None, console: Console | None = None) -> Path:
    """Rebuild a ranking's leaderboard and summary from its directory (``pebench
    leaderboard --output-dir`` on a ranking)."""
    console = console or Console()
    record = json.loads((root / RANK_FILE).read_text())
    with tempfile.TemporaryDirectory(prefix="pebench-rank-") as scratch:
        ref = open_reference(root / record["reference"], None, Path(scratch))
        handle = open_sweep(SweepStorage(str(root / JOURNAL_FILE)), None, root)
        mode, _ = resolve_mode(wandb)
        tracker = Tracker(mode, root, handle.sweep.wandb_project)
        publish_rank(ref, handle, tracker, console, record["label"], record.get("skipped", {}))
    return root


def publish_rank(
    ref: Reference,
    handle: SweepHandle,
    tracker: Tracker,
    console: Console,
    label: str,
    skipped: dict[str, str],
) -> None:
    """The reference leaderboard with ``label``'s row inserted and marked, its paired tests
    against every row (``comparisons.csv``) and the plain-language ``summary.md``."""
    root = Path(handle.output_dir)
    sources = ref.sources() + sources_of(handle)
    options = PublishOptions(
        remember_budget=False, sources=sources, marked=label,
        title=f"pebench rank: {label} against {ref.sweep.name}",
    )  # fmt: skip
    _, columns, entries = publish(handle, tracker, console, options)
    found = compare(columns, entries, label)
    with (root / "comparisons.csv").open("w", newline="") as handle_csv:
        writer = csv.writer(handle_csv)
        writer.writerow(["column", "encoding", "difference", "seeds", "p", "p_holm", "verdict"])
        for header, comparisons in found.items():
            for c in comparisons:
                writer.writerow([header, c.other, f"{c.difference:.6g}", c.seeds, f"{c.p:.4g}",
                                 f"{c.p_holm:.4g}", c.verdict])  # fmt: skip
    text = summary(label, ref, columns, entries, found, skipped)
    (root / "summary.md").write_text(text)
    console.print(text.split("\n\n", 1)[1].strip() if "\n\n" in text else text)
    console.print(f"summary written to {root / 'summary.md'}")


def compare(columns: list[Column], entries: list[Entry], label: str) -> dict[str, list]:
    """Per ranked column: ``label``'s paired comparisons with every other row."""
    found = {}
    for column in (c for c in columns if c.primary):
        scores = {
            e.encoding: dict(zip(cell.seeds, cell.values, strict=True))
            for e in entries
            if (cell := e.cells.get(column.header)) is not None and cell.values
        }
        if label in scores:
            found[column.header] = paired_comparisons(scores, label, column.direction)
    return found


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.2g}"


def _names(comparisons: list[Comparison], with_p: bool) -> str:
    shown = [f"{c.other} ({_p(c.p_holm)})" if with_p else c.other for c in comparisons[:LISTED]]
    rest = len(comparisons) - LISTED
    return ", ".join(shown) + (f" and {rest} more" if rest > 0 else "")


def task_line(header: str, comparisons: list[Comparison]) -> str:
    """One column's verdicts as a list item, e.g. ``- **copy OOD**: beats alibi (p = 0.01);
    ties with fire``: the first few names of each verdict (strongest evidence first), "and
    N more", Holm-corrected p-values."""
    by = {v: [c for c in comparisons if c.verdict == v] for v in ("better", "worse", "tied")}
    for verdict in ("better", "worse"):
        by[verdict].sort(key=lambda c: c.p_holm)
    if len(by["worse"]) == len(comparisons):
        return f"- **{header}**: loses to every other encoding"
    if len(by["better"]) == len(comparisons):
        return f"- **{header}**: beats every other encoding"
    parts = []
    if by["better"]:
        parts.append(f"beats {_names(by['better'], True)}")
    if by["worse"]:
        parts.append(f"loses to {_names(by['worse'], True)}")
    if by["tied"]:
        everyone = not by["better"] and not by["worse"]
        parts.append(
            "ties with every other encoding" if everyone
            else f"ties with {_names(by['tied'], False)}"
        )  # fmt: skip
    return f"- **{header}**: " + "; ".join(parts)


def summary(
    label: str,
    ref: Reference,
    columns: list[Column],
    entries: list[Entry],
    found: dict[str, list[Comparison]],
    skipped: dict[str, str],
) -> str:
    """``summary.md``: where ``label`` stands among the reference's rows, as a short list:
    its overall place, then one line per task."""
    ranked = [e for e in entries if e.mean_rank is not None]
    mine = next((e for e in entries if e.encoding == label), None)
    lines = []
    if mine is not None and mine.mean_rank is not None:
        low, high = mine.rank_interval or (mine.mean_rank, mine.mean_rank)
        place = ranked.index(mine) + 1
        ties = [h for h in found if mine.cells[h].tied_with_best]
        tied = f"; tied with the best on {', '.join(ties)}" if ties else ""
        lines.append(
            f"- **Overall**: place {place} of {len(ranked)} encodings, mean rank "
            f"{mine.mean_rank:.2f} (95% bootstrap interval [{low:.1f}, {high:.1f}]){tied}"
        )
    lines += [task_line(h, cs) for h, cs in found.items()]
    lines += [f"- **{task}**: not ranked: {why}" for task, why in skipped.items()]
    body = "\n".join(lines) if lines else f"{label} has no results yet."
    return (
        f"# {label} against {ref.sweep.name}\n\n{body}\n\n"
        f"Tests: two-sided paired t-tests over the seeds both rows share (scipy.stats.ttest_rel),"
        f" Holm-corrected over the task's rows (alpha 0.05); p-values above are corrected. All "
        f"comparisons are in comparisons.csv; the table is in leaderboard.md.\n"
    )
