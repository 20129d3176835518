"""What one finished run records: :class:`RunRecord`, the content of its ``metrics.json``, and
the names of the files of a run directory.

``train`` writes the record; the leaderboard, plots, reports, W&B tracking, sweep workers
and the comparison with released figures read it through :meth:`RunRecord.read`, never by
literal keys. Files written by older versions read as they are: settings they lack are
None, and their leaderboard columns are inferred from the shape of their results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pebench.tasks.columns import MetricColumn, inferred_columns

#: a finished run's record
METRICS_FILE = "metrics.json"
#: the run's resolved configuration
CONFIG_FILE = "config.yaml"
#: the last checkpoint of a run, relative to its directory (what --resume continues from)
CHECKPOINT = Path("checkpoints") / "last.ckpt"
#: Lightning's CSV log directory
LOGS_DIR = "logs"
#: a failed trial's traceback (sweeps)
ERROR_FILE = "error.txt"
#: the task's classification reports of the validation and test splits
REPORT_FILES = {"validation": "report_validation.txt", "test": "report_test.txt"}


def json_layout(value: Any, indent: int = 0) -> str:
    """``value`` as indented JSON whose innermost objects and arrays (those holding no
    object or array) each take one line: a row per length reads at a glance, and the many
    per-length rows of a long evaluation take a third less space than fully indented JSON.
    ``json.loads`` gives back exactly ``value``."""
    if not isinstance(value, (dict, list)) or not any(
        isinstance(item, (dict, list))
        for item in (value.values() if isinstance(value, dict) else value)
    ):
        return json.dumps(value, ensure_ascii=False)
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(key)}: {json_layout(item, indent + 1)}"
            for key, item in value.items()
        ]
        opening, closing = "{", "}"
    else:
        items = [f"{pad}{json_layout(item, indent + 1)}" for item in value]
        opening, closing = "[", "]"
    return opening + "\n" + ",\n".join(items) + "\n" + "  " * indent + closing


#: the order of metrics.json's keys (``details`` spread in place)
JSON_ORDER = (
    "task", "encoding", "encoding_variant", "seed", "monitor", "positions", "summary",
    "per_length", "details", "test", "data", "selected_on", "columns", "parameters",
    "encoding_parameters", "steps", "resumed_from_step", "wall_time_s", "train_step_time_s",
    "tokens_per_s", "between_steps_time_s", "eval_time_s", "startup_s", "device", "gpu",
    "precision", "torch", "cuda", "attention_path", "threads",
)  # fmt: skip
#: keys left out of metrics.json when the run has none
OPTIONAL = {"test", "data", "selected_on"}


@dataclass
class RunRecord:
    """One finished run: what it trained, its results and what they cost.

    ``summary`` holds the scalar validation metrics (what selection reads), ``per_length``
    the metrics per evaluation length or bucket, ``test`` the test split's results when the
    task has one, and ``details`` the task's other results (``train_max_length``, a passkey
    ``grid``, NER's ``per_type``, ...), kept under their own keys in ``metrics.json``.
    ``columns`` are the leaderboard columns the task declared for ``selected_on``.
    """

    task: str
    encoding: str
    seed: int
    summary: dict[str, Any]
    per_length: dict[str, Any]
    encoding_variant: str = ""
    monitor: str | None = None
    positions: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    parameters: int = 0
    encoding_parameters: int | None = None
    steps: int | None = None
    #: where a resumed run began (its times count this process only)
    resumed_from_step: int | None = None
    wall_time_s: float | None = None
    train_step_time_s: float | None = None
    tokens_per_s: float = 0.0
    between_steps_time_s: float | None = None
    eval_time_s: float | None = None
    startup_s: float | None = None
    device: str | None = None
    gpu: str | None = None
    precision: str | None = None
    torch: str | None = None
    cuda: str | None = None
    #: the attention kernel that ran (``sdpa``, ``flex``, ``cpu-blocks``, ``fla``, ...)
    attention_path: str | None = None
    threads: int | None = None
    #: the metric the run was selected on, and the columns its task declared for it
    selected_on: str | None = None
    columns: list[MetricColumn] | None = None

    @classmethod
    def _own_keys(cls) -> set[str]:
        return {f.name for f in fields(cls)} - {"details"}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RunRecord:
        """A record from the content of a ``metrics.json`` (of this or an older version)."""
        own = cls._own_keys()
        values = {key: value for key, value in doc.items() if key in own}
        if values.get("columns") is not None:
            values["columns"] = [MetricColumn.from_json(c) for c in values["columns"]]
        values.setdefault("summary", {})
        values.setdefault("per_length", {})
        values.setdefault("encoding_variant", "")
        details = {key: value for key, value in doc.items() if key not in own}
        return cls(**values, details=details)

    @classmethod
    def read(cls, run_dir: Path) -> RunRecord:
        """The record in ``run_dir``; OSError or ValueError when it is missing or unreadable."""
        doc = json.loads((Path(run_dir) / METRICS_FILE).read_text())
        if not isinstance(doc, dict):
            raise ValueError(f"{run_dir / METRICS_FILE} does not hold a JSON object")
        return cls.from_json(doc)

    def as_json(self) -> dict[str, Any]:
        """The content of ``metrics.json``: what ran, the results (summary, per length, the
        task's details, test, data), the declared columns, then sizes, times and where the
        run trained. Optional parts the run does not have are left out."""
        doc: dict[str, Any] = {}
        for name in JSON_ORDER:
            value = getattr(self, name)
            if name == "details":
                doc.update(value)
            elif name == "columns":
                if value is not None:
                    doc[name] = [c.as_json() for c in value]
            elif value is not None or name not in OPTIONAL:
                doc[name] = value
        return doc

    def write(self, run_dir: Path) -> Path:
        """Write ``metrics.json`` into ``run_dir``; returns its path."""
        path = Path(run_dir) / METRICS_FILE
        path.write_text(json_layout(self.as_json()) + "\n")
        return path

    def columns_for(self, metric: str) -> list[MetricColumn]:
        """The leaderboard columns of this run when selected on ``metric``: its task's
        declaration when the run was selected on that metric, else (older records) the
        columns the shape of its results implies."""
        if self.columns is not None and self.selected_on == metric:
            return self.columns
        return inferred_columns(metric, self.results())

    def results(self) -> dict[str, Any]:
        """The results as the task returned them (summary, per_length, details, test)."""
        out = {"summary": self.summary, "per_length": self.per_length, **self.details}
        if self.test is not None:
            out["test"] = self.test
        return out

    def value(self, where: str, key: str) -> float | None:
        """The metric ``key`` of the validation summary (``where="summary"``) or the test
        split's (``"test"``); None when not reported."""
        values = (self.test or {}).get("summary", {}) if where == "test" else self.summary
        value = values.get(key)
        return float(value) if value is not None else None

    @property
    def where_trained(self) -> str | None:
        """The GPU's name, else the device (``cpu``); None when not recorded."""
        return self.gpu or self.device
