"""Sweep definitions (``configs/sweeps/*.yaml``) validated into typed objects.

A sweep crosses tasks with encodings. Every (task, encoding) pair gets the same model size,
the same search space and the same trial budget (the fair protocol); the best configuration
of each pair is then retrained with every seed in ``seeds`` and evaluated on test / OOD data.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from pebench.errors import PebenchError, did_you_mean, yaml_problem

#: run-configuration sections a search-space key may point into (``optim.lr``, ...)
SECTIONS = ("model", "optim", "train", "task", "encoding")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class EncodingEntry:
    """One ``encodings`` entry of a sweep: a registered name or dotted path, its options, and
    its label (the name, or ``label`` for a configured variant), used in study names, run
    directories and tables. ``task_args`` are task options this encoding's runs set in every
    task that takes them: ``{causal: true}`` runs a causal-only encoding (NoPE, xPos, PaTH)
    on an encoder task's tape under a causal mask. ``model_args`` are model settings of this
    encoding's runs: ``{randomized_positions: 256, randomize_eval: true}`` makes the
    randomized-positions variant of an encoding (Ruoss et al. 2023)."""

    class_path: str
    init_args: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    task_args: dict[str, Any] = field(default_factory=dict)
    model_args: dict[str, Any] = field(default_factory=dict)

    KEYS: ClassVar[tuple[str, ...]] = (
        "class_path", "init_args", "label", "task_args", "model_args",
    )  # fmt: skip

    @classmethod
    def of(cls, entry: Any, where: str = "encodings") -> EncodingEntry:
        """The entry a sweep file writes: a name, or ``{class_path, init_args, label,
        task_args, model_args}``."""
        if isinstance(entry, EncodingEntry):
            return entry
        if isinstance(entry, str):
            return cls(entry, {}, entry)
        if isinstance(entry, dict) and isinstance(entry.get("class_path"), str):
            keys = list(cls.KEYS)
            unknown = [k for k in entry if k not in keys]
            if unknown:
                raise PebenchError(
                    f"{where}: unknown key {unknown[0]!r} in {entry['class_path']}'s entry"
                    f"{did_you_mean(unknown[0], keys)}; an entry takes {', '.join(keys)}"
                )
            label = str(entry.get("label") or entry["class_path"])
            for key in ("init_args", "task_args", "model_args"):
                if not isinstance(entry.get(key) or {}, dict):
                    raise PebenchError(f"{where}: {label}'s {key} must be a mapping of options")
            return cls(
                entry["class_path"],
                dict(entry.get("init_args") or {}),
                label,
                dict(entry.get("task_args") or {}),
                dict(entry.get("model_args") or {}),
            )
        raise PebenchError(f"encodings entry {entry!r} must be a name or a mapping with class_path")

    def spec(self) -> dict[str, Any]:
        """The entry as a run configuration's ``encoding``: ``{class_path, init_args}``."""
        return {"class_path": self.class_path, "init_args": copy.deepcopy(self.init_args)}


def encoding_label(entry: Any) -> str:
    """The label of an encodings entry as a sweep file writes it."""
    return EncodingEntry.of(entry).label


@dataclass
class Param:
    """One searched setting: a range (``low``/``high``, optionally ``log`` or ``step``) or a
    list of ``choices``. ``when`` makes it conditional: ``{encoding: [rope, xpos]}`` searches
    it only in those encodings' studies; another key (``optim.warmup_steps: 0``) conditions
    on that parameter's sampled value."""

    #: whole numbers (``1``) search integers, decimals (``1.0``) search floats
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = None
    choices: list[Any] | None = None
    when: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["categorical", "int", "float"]:
        if self.choices is not None:
            return "categorical"
        ints = all(isinstance(v, int) for v in (self.low, self.high, self.step) if v is not None)
        return "int" if ints else "float"

    def applies(self, context: dict[str, Any]) -> bool:
        """Whether this parameter is searched, given the study's task/encoding labels and
        the values sampled so far."""
        return all(key in context and self.admits(key, context[key]) for key in self.when)

    def admits(self, key: str, value: Any) -> bool:
        """Whether the condition on ``key`` (none: any value) admits ``value``."""
        if key not in self.when:
            return True
        allowed = self.when[key]
        return value in (allowed if isinstance(allowed, list) else [allowed])


@dataclass
class PrunerConfig:
    """Optuna pruner fed by the validation metric at every ``train.eval_every`` steps."""

    type: Literal["median", "hyperband", "successive_halving", "threshold", "none"] = "median"
    #: trials finished before any pruning (median pruner)
    n_startup_trials: int = 2
    #: training steps before a trial may be pruned (median pruner)
    n_warmup_steps: int = 0
    #: threshold pruner: prune a trial whose metric leaves [lower, upper] (e.g. diverged)
    lower: float | None = None
    upper: float | None = None


@dataclass
class TaskEntry:
    """One task of a sweep, with a label used in study names and tables."""

    name: str
    #: a task name, or ``{class_path: ..., init_args: {...}}``
    task: Any
    #: validation metric to optimize (a key of the task's summary); default: the task's monitor
    metric: str | None = None
    #: default: the task's ``monitor_direction`` (maximize for accuracies, minimize for losses)
    direction: Literal["maximize", "minimize"] | None = None
    #: encoding labels not run on this task (e.g. NoPE in a bidirectional encoder); their
    #: leaderboard cells stay empty and their mean rank is over the other tasks
    skip_encodings: list[str] = field(default_factory=list)
    #: per-task overrides of the sweep's ``model`` / ``optim`` / ``train`` sections
    model: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass
class SlurmSettings:
    """How ``pebench sweep --slurm`` submits the sweep's workers: a SLURM job array of
    ``tasks`` workers, each with ``gpus`` GPUs (``--gres=gpu:N``; runs on the GPU when above
    0) and ``cpus`` cores; ``partition``, ``time`` and ``account`` are passed to sbatch as
    given, ``options`` are further sbatch arguments (``--qos=long``). Where a sweep runs is not
    part of its definition: changing these never changes the sweep."""

    tasks: int = 2
    gpus: int = 0
    cpus: int | None = None
    partition: str | None = None
    time: str | None = None
    account: str | None = None
    options: list[str] = field(default_factory=list)


#: keys of a sweep file that say where it runs, not what: ignored when definitions are compared
PLACEMENT_KEYS = ("slurm",)


def definition(doc: dict[str, Any]) -> dict[str, Any]:
    """A resolved sweep document without the keys that only say where it runs."""
    return {k: v for k, v in doc.items() if k not in PLACEMENT_KEYS}


@dataclass
class SweepConfig:
    """A sweep: tasks × encodings, a shared search space and budget, final seeds."""

    #: keys a sweep file may hold beside the settings (resolved before validation)
    FILE_KEYS: ClassVar[tuple[str, ...]] = ("scales", "scale")

    name: str
    tasks: list[TaskEntry]
    #: encoding names, or ``{class_path: ..., init_args: {...}, label: ...}`` for variants
    encodings: list[EncodingEntry]
    #: trials per (task, encoding) study, pruned trials included; 0 = no search (an empty
    #: search space): the fixed configuration is trained once per seed
    trials: int = 8
    search_space: dict[str, Param] = field(default_factory=dict)
    pruner: PrunerConfig = field(default_factory=PrunerConfig)
    #: seeds of the final retraining of each study's best configuration
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    #: seed of every search trial (trials differ by hyperparameters only)
    search_seed: int = 0
    #: ``tpe`` (Optuna's TPE) or ``grid`` (every combination of the choices once, as a
    #: paper's hyperparameter grid: each parameter lists ``choices``, ``trials`` is their count)
    sampler: Literal["tpe", "grid"] = "tpe"
    #: seed of the sampler
    sampler_seed: int = 0
    #: fixed model size, the same for every encoding
    model: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    wandb_project: str = "pebench"
    #: defaults of ``pebench sweep --slurm`` (the command line's options override them)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
    #: the scale the file was resolved at (set by :func:`load_sweep`; None: no scales)
    scale: str | None = field(default=None, init=False, compare=False)
    #: its (task, encoding) studies, computed once (:func:`~.studies.plans`)
    _plans: list[Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def labels(self) -> list[str]:
        """The encodings' labels, in order."""
        return [entry.label for entry in self.encodings]

    def train_settings(self, task: TaskEntry) -> dict[str, Any]:
        """The ``train`` section of ``task``'s runs: the sweep's, overridden by the task's."""
        return {**self.train, **task.train}


def _check(config: SweepConfig) -> None:
    """Checks jsonargparse's types cannot express; each fails with a one-line fix."""
    if not NAME.match(config.name):
        raise PebenchError(
            f"sweep name {config.name!r} must be letters, digits, '-', '_' or '.'; rename it"
        )
    if config.trials < 0:
        raise PebenchError(f"trials must be at least 0, got {config.trials}")
    if config.trials == 0 and config.search_space:
        raise PebenchError(
            "trials is 0 (no search) but search_space is not empty; give trials >= 1 or "
            "remove the search space"
        )
    if not config.tasks or not config.encodings:
        raise PebenchError("a sweep needs at least one task and one encoding")
    if not config.seeds:
        raise PebenchError("seeds must list at least one seed for the final retraining")
    if len(set(config.seeds)) != len(config.seeds):
        raise PebenchError(f"seeds lists a seed twice: {config.seeds}")
    for what, labels in (
        ("task", [t.name for t in config.tasks]),
        ("encoding", config.labels),
    ):
        for label in labels:
            if not NAME.match(label):
                raise PebenchError(f"{what} label {label!r} must be letters, digits, '-', '_', '.'")
        if len(set(labels)) != len(labels):
            raise PebenchError(
                f"a {what} appears twice in the sweep ({', '.join(labels)}); give variants "
                f"distinct {'label' if what == 'encoding' else 'name'}s"
            )
    labels = config.labels
    for task in config.tasks:
        unknown = [label for label in task.skip_encodings if label not in labels]
        if unknown:
            raise PebenchError(
                f"task {task.name}: skip_encodings names {unknown[0]!r}, which is not among "
                f"the sweep's encodings ({', '.join(labels)})"
            )
    _check_search_space(config, labels)
    if all(set(labels) <= set(task.skip_encodings) for task in config.tasks):
        raise PebenchError(
            "every task skips every encoding (skip_encodings), so the sweep has nothing to run"
        )
    if config.sampler == "grid":
        _check_grid(config)
    if config.pruner.type != "none":
        for entry in config.tasks:
            if not config.train_settings(entry).get("eval_every"):
                raise PebenchError(
                    f"task {entry.name}: pruning needs intermediate validation; set "
                    f"train.eval_every (or pruner.type: none)"
                )


def _check_search_space(config: SweepConfig, labels: list[str]) -> None:
    """Every searched key names a setting of a section, with a range or choices, and
    conditions that can match."""
    for key, param in config.search_space.items():
        section = key.split(".", 1)[0]
        if section not in SECTIONS or "." not in key:
            raise PebenchError(
                f"search_space key {key!r} must be <section>.<setting> with section one of "
                f"{', '.join(SECTIONS)} (e.g. optim.lr)"
            )
        if param.choices is None and (param.low is None or param.high is None):
            raise PebenchError(f"search_space {key}: give either low and high, or choices")
        if param.choices is not None and not param.choices:
            raise PebenchError(f"search_space {key}: choices is empty")
        if param.low is not None and param.high is not None and param.low > param.high:
            raise PebenchError(f"search_space {key}: low {param.low} is above high {param.high}")
        for name, allowed in param.when.items():
            if name not in ("task", "encoding") and (
                name not in config.search_space or name == key
            ):
                raise PebenchError(
                    f"search_space {key}: when names {name!r}, which is neither task, encoding "
                    f"nor another searched key; fix the condition"
                )
            _check_condition(config, key, name, allowed, labels)


def _check_condition(
    config: SweepConfig, key: str, name: str, allowed: Any, labels: list[str]
) -> None:
    """Refuse a ``when`` value that can match no study: not a label of the sweep's tasks or
    encodings, nor (so that one search space may serve several sweeps) a registered
    encoding or task name. A class name given for a dotted path is the usual slip."""
    if name not in ("task", "encoding"):
        return
    from pebench.catalog import listing

    known = labels if name == "encoding" else [t.name for t in config.tasks]
    registered = listing()[0 if name == "encoding" else 1]
    for value in allowed if isinstance(allowed, list) else [allowed]:
        if value not in known and value not in registered:
            raise PebenchError(
                f"search_space {key}: when {name} {value!r} matches no {name} of the sweep"
                f"{did_you_mean(str(value), known)}; its {name} labels are {', '.join(known)}"
            )


def grid_size(search_space: dict[str, Param]) -> int:
    """Number of combinations of the search space's choices (a grid sampler's trials)."""
    return math.prod(len(p.choices or ()) for p in search_space.values())


def _check_grid(config: SweepConfig) -> None:
    """A grid visits every combination once: all parameters need choices, none may be
    conditional (studies would hold different grids), and ``trials`` must be the grid size."""
    if not config.search_space:
        raise PebenchError("sampler is grid but search_space is empty; list choices to search")
    for key, param in config.search_space.items():
        if param.choices is None:
            raise PebenchError(
                f"search_space {key}: the grid sampler needs choices (a list of values), "
                f"not a range; write choices: [...]"
            )
        if param.when:
            raise PebenchError(
                f"search_space {key}: the grid sampler takes no when conditions; drop when "
                f"or use sampler: tpe"
            )
    size = grid_size(config.search_space)
    if config.trials != size:
        raise PebenchError(
            f"sampler is grid with {size} combinations but trials is {config.trials}; "
            f"set trials: {size}"
        )


def _convert(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against the annotation ``tp`` (dataclasses built recursively)."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if tp is EncodingEntry:
        return EncodingEntry.of(value, where)
    if dataclasses.is_dataclass(tp):
        return build_config(tp, value, where)
    if origin in (Union, UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, where)
            except PebenchError as exc:
                errors.append(str(exc))
        raise PebenchError(errors[0])
    if origin is Literal:
        if value not in args:
            raise PebenchError(f"{where}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise PebenchError(f"{where}: expected a list, got {value!r}")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise PebenchError(f"{where}: expected a mapping, got {value!r}")
        return {k: _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string; it is the number the user meant
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise PebenchError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def build_config(cls: type, doc: Any, where: str) -> Any:
    """``doc`` (a YAML mapping) validated into the dataclass ``cls``: unknown and missing
    settings and wrong types are one-line errors naming ``where``."""
    if not isinstance(doc, dict):
        raise PebenchError(f"{where}: expected a mapping of settings, got {doc!r}")
    hints = get_type_hints(cls)
    settings = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in settings]
    unknown = [k for k in doc if k not in names]
    if unknown:
        valid = [*names, *getattr(cls, "FILE_KEYS", ())]
        raise PebenchError(
            f"{where}: unknown setting {unknown[0]!r}{did_you_mean(str(unknown[0]), valid)}; "
            f"valid settings: {', '.join(valid)}"
        )
    missing = [
        f.name
        for f in settings
        if f.name not in doc
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise PebenchError(f"{where}: missing required setting {missing[0]!r}")
    return cls(**{k: _convert(hints[k], v, f"{where}.{k}") for k, v in doc.items()})


def parse_sweep(doc: Any, source: str = "sweep") -> SweepConfig:
    """Validate a parsed YAML document into a :class:`SweepConfig`."""
    config = build_config(SweepConfig, doc, source)
    _check(config)
    return config


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` applied: mappings merge key by key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def select_scale(doc: Any, scale: str | None, source: str) -> Any:
    """Resolve a file with ``scales: {NAME: overrides}``: apply the chosen scale (``scale``,
    else the file's ``scale:``) and name the sweep ``<name>-<scale>``, so that the scales of
    one study never share storage. Files without ``scales`` pass through unchanged."""
    if not isinstance(doc, dict) or "scales" not in doc:
        if scale is not None:
            raise PebenchError(f"{source} defines no scales; drop --scale")
        return doc
    scales = doc["scales"]
    chosen = scale or doc.get("scale")
    if not isinstance(scales, dict) or chosen not in scales:
        valid = ", ".join(scales) if isinstance(scales, dict) else "none"
        raise PebenchError(f"{source}: unknown scale {chosen!r}; valid scales: {valid}")
    base = {k: v for k, v in doc.items() if k not in ("scales", "scale")}
    resolved = _merge(base, scales[chosen] or {})
    resolved["name"] = f"{resolved.get('name')}-{chosen}"
    return resolved


def load_sweep(path: str | Path, scale: str | None = None) -> tuple[SweepConfig, str]:
    """Read and validate a sweep file, once; returns the config (carrying the scale it was
    resolved at) and its resolved text (stored with the sweep so that workers on other
    machines run exactly the same definition)."""
    file = Path(path)
    if not file.is_file():
        raise PebenchError(f"sweep file {path} does not exist; see configs/sweeps/ for presets")
    text = file.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_problem(str(path), exc) from None
    chosen = scale
    if isinstance(doc, dict) and "scales" in doc or scale is not None:
        chosen = scale if scale is not None else doc.get("scale")
        doc = select_scale(doc, scale, str(path))
        text = yaml.safe_dump(doc, sort_keys=False)
    sweep = parse_sweep(doc, str(path))
    sweep.scale = chosen
    return sweep, text


def _without(doc: dict[str, Any], encodings: set[str], tasks: set[str]) -> dict[str, Any]:
    """A resolved sweep document with the given encoding and task labels removed wherever a
    label is listed (the lists themselves, skip_encodings, a search space's ``when``); empty
    lists left behind are dropped, so a definition compares equal to the one before them."""
    doc = copy.deepcopy(doc)
    doc["encodings"] = [e for e in doc.get("encodings") or [] if encoding_label(e) not in encodings]
    doc["tasks"] = [t for t in doc.get("tasks") or [] if t.get("name") not in tasks]
    for task in doc["tasks"]:
        skips = [e for e in task.get("skip_encodings") or [] if e not in encodings]
        task.pop("skip_encodings", None)
        if skips:
            task["skip_encodings"] = skips
    for param in (doc.get("search_space") or {}).values():
        when = param.get("when") if isinstance(param, dict) else None
        for key, removed in (("encoding", encodings), ("task", tasks)):
            if isinstance(when, dict) and isinstance(when.get(key), list):
                when[key] = [v for v in when[key] if v not in removed]
    return doc


def extension(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]] | None:
    """The encodings and tasks that ``new`` adds to the stored definition ``old`` when adding
    them is its only change (the existing studies stay valid and the sweep grows), else
    None. Both are resolved, validated documents."""
    labels = [encoding_label(e) for e in old.get("encodings") or []]
    added_encodings = [
        label for label in map(encoding_label, new.get("encodings") or []) if label not in labels
    ]
    names = [t.get("name") for t in old.get("tasks") or []]
    added_tasks = [t.get("name") for t in new.get("tasks") or [] if t.get("name") not in names]
    if not added_encodings and not added_tasks:
        return None
    reduced = _without(new, set(added_encodings), set(added_tasks))
    return (added_encodings, added_tasks) if reduced == _without(old, set(), set()) else None
