"""The studies of a sweep: one per (task, encoding), named ``<sweep>/<task>/<encoding>``.

A :class:`StudyPlan` turns a trial's sampled parameters into the run configuration of
``pebench train`` (the same mapping a ``train`` YAML file holds), so every trial is an
ordinary run validated by the same parser.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import math
import typing
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from pebench.benchmark.run.settings import TrainConfig
from pebench.benchmark.sweep.config import EncodingEntry, SweepConfig, TaskEntry
from pebench.catalog import task_monitors
from pebench.errors import PebenchError

#: suffix of the study holding a (task, encoding)'s final retraining runs, one per seed
FINAL_SUFFIX = "/final"
#: search-space value combinations checked exhaustively before a sweep (else one at a time)
MAX_COMBINATIONS = 64
#: trial user attribute naming an error that ended the trial (counted in the budget)
ERROR_ATTR = "error"


class TrialAttr:
    """The user attributes pebench sets on a trial (beside :data:`ERROR_ATTR`)."""

    #: the run's directory, relative to the sweep's
    OUTPUT_DIR = "output_dir"
    #: a final run's seed
    SEED = "seed"
    #: a final run's parameters: the search's best trial's
    PARAMS = "params"
    #: the number of the search trial a final run's parameters come from
    SELECTED_TRIAL = "selected_trial"


def finished(trial: optuna.trial.FrozenTrial) -> bool:
    """Complete, pruned, or failed with an error. A trial failed because its worker died is
    not finished: a re-queued copy (WAITING) replaces it."""
    state = optuna.trial.TrialState
    return trial.state in (state.COMPLETE, state.PRUNED) or (
        trial.state == state.FAIL and ERROR_ATTR in trial.user_attrs
    )


def in_budget(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial counts against its study's budget: finished or running."""
    return finished(trial) or trial.state == optuna.trial.TrialState.RUNNING


@dataclass(frozen=True)
class StudyPlan:
    """One (task, encoding) pair of a sweep."""

    sweep: SweepConfig
    task: TaskEntry
    encoding: EncodingEntry

    @property
    def encoding_label(self) -> str:
        return self.encoding.label

    @property
    def name(self) -> str:
        return f"{self.sweep.name}/{self.task.name}/{self.encoding_label}"

    @property
    def final_name(self) -> str:
        return self.name + FINAL_SUFFIX

    @property
    def task_class(self) -> type:
        from pebench import tasks  # torch and Lightning: only when the class itself is needed

        spec = self.task.task
        return tasks.get(spec if isinstance(spec, str) else spec["class_path"])

    def _monitor(self) -> tuple[str | None, str]:
        """The task's (monitor, direction): read from the sources for a built-in task (a
        leaderboard needs no Lightning), else from the imported class."""
        spec = self.task.task
        known = task_monitors().get(spec if isinstance(spec, str) else spec["class_path"])
        if known is not None:
            return known
        cls = self.task_class
        return getattr(cls, "monitor", None), getattr(cls, "monitor_direction", "maximize")

    @property
    def metric(self) -> str:
        """The validation summary key optimized (the task's monitor unless overridden)."""
        return self.task.metric or self._monitor()[0]

    @property
    def direction(self) -> str:
        return self.task.direction or self._monitor()[1]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample this trial's parameters from the sweep's search space."""
        context: dict[str, Any] = {"task": self.task.name, "encoding": self.encoding_label}
        values: dict[str, Any] = {}
        for key, p in self.sweep.search_space.items():
            if not p.applies({**context, **values}):
                continue
            if p.kind == "categorical":
                values[key] = trial.suggest_categorical(key, p.choices)
            elif p.kind == "int":
                values[key] = trial.suggest_int(key, p.low, p.high, step=p.step or 1, log=p.log)
            else:
                values[key] = trial.suggest_float(key, p.low, p.high, step=p.step, log=p.log)
        return values

    def encoding_task_args(self) -> dict[str, Any]:
        """The encoding entry's ``task_args`` that this study's task takes (a decoder task has
        no ``causal`` option: it is causal already)."""
        args = self.encoding.task_args
        if not args:
            return {}
        accepted = inspect.signature(self.task_class.__init__).parameters
        return {k: copy.deepcopy(v) for k, v in args.items() if k in accepted}

    def run_config(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        """The ``pebench train`` configuration of a run with these parameters and seed."""
        task = self.task.task
        task = {"class_path": task} if isinstance(task, str) else copy.deepcopy(task)
        init_args = {**(task.get("init_args") or {}), **self.encoding_task_args()}
        doc: dict[str, Any] = {
            "task": {"class_path": task["class_path"], "init_args": init_args},
            "encoding": self.encoding.spec(),
            "model": {**self.sweep.model, **self.task.model, **self.encoding.model_args},
            "optim": {**self.sweep.optim, **self.task.optim},
            "train": {**self.sweep.train_settings(self.task), "progress": False},
            "seed": seed,
        }
        for key, value in params.items():
            section, setting = key.split(".", 1)
            target = doc[section]["init_args"] if section in ("task", "encoding") else doc[section]
            target[setting] = value
        return doc

    def _setting_type(self, key: str) -> Any:
        """The declared type of a search-space key's setting (None when undeclared)."""
        from pebench import encodings
        from pebench.benchmark.run import settings as config

        section, setting = key.split(".", 1)
        owner: Any = {
            "model": config.ModelConfig,
            "optim": config.OptimConfig,
            "train": config.TrainConfig,
            "task": getattr(self.task_class, "__init__", None),
            "encoding": getattr(
                encodings.get(self.encoding.class_path),
                "__init__",
                None,
            ),
        }[section]
        try:
            hint = typing.get_type_hints(owner).get(setting)
        except (NameError, TypeError):
            return None
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return options[0] if len(options) == 1 else hint

    def check(self) -> None:
        """Fail now, before any trial runs, if this pair's configuration is invalid: every
        value a searched parameter can take (each choice, both ends of a range) is parsed
        into a run and its model built, with the other parameters at their first value (all
        combinations when there are at most ``MAX_COMBINATIONS``); and the metric must be one
        the task reports."""
        from pebench.backbone import check_dims
        from pebench.benchmark.run.spec import run_spec_from_dict
        from pebench.encodings.base import ModelDims

        if self.task.metric is None and not hasattr(self.task_class, "monitor"):
            raise PebenchError(f"task {self.task.name}: set metric: the task has no monitor")
        train = self.sweep.train_settings(self.task)
        processes = int(train.get("devices", 1)) * int(train.get("num_nodes", 1))
        if processes > 1:
            # Lightning's DDP launcher re-runs the worker's command line in every new process
            raise PebenchError(
                f"task {self.task.name}: train.devices × train.num_nodes is {processes}, but a "
                f"sweep trial runs in its worker on one device; use --gpus for more workers, "
                f"or run a multi-device trial with pebench train (docs/cluster.md)"
            )
        for key, p in self.sweep.search_space.items():
            declared = self._setting_type(key)
            if p.kind == "int" and declared is float:
                raise PebenchError(
                    f"search_space {key}: low/high are integers but {key} is a float setting, "
                    f"so only whole numbers would be searched; write them as floats (e.g. "
                    f"{float(p.low)} and {float(p.high)})"
                )
            if p.kind == "float" and declared is int:
                raise PebenchError(
                    f"search_space {key}: low/high are decimals but {key} is an integer "
                    f"setting; write them as whole numbers (e.g. {int(p.low)} and {int(p.high)})"
                )
        candidates = {
            key: list(p.choices) if p.choices is not None else [p.low, p.high]
            for key, p in self.sweep.search_space.items()
        }
        first = {key: values[0] for key, values in candidates.items()}
        points = [first] + [
            {**first, key: value} for key, values in candidates.items() for value in values[1:]
        ]
        if math.prod(len(v) for v in candidates.values()) <= MAX_COMBINATIONS:
            points = [
                dict(zip(candidates, combo, strict=True))
                for combo in itertools.product(*candidates.values())
            ]
        for point in points:
            params = self.suggest(optuna.trial.FixedTrial(point))
            try:
                spec, _ = run_spec_from_dict(
                    self.run_config(params, 0), Path("unused"), dump=False
                )
                m = spec.model
                dims = ModelDims(m.d_model, m.num_heads, m.num_layers, causal=spec.task.causal)
                check_dims(dims)
                spec.encoding(dims)
            except PebenchError as exc:
                where = ", ".join(f"{k}={v}" for k, v in params.items())
                raise PebenchError(f"{exc} (with {where})" if where else str(exc)) from None
        keys = spec.task.summary_keys()
        if keys is not None and self.metric not in keys:
            raise PebenchError(
                f"task {self.task.name}: metric {self.metric!r} is not one the task reports "
                f"({', '.join(sorted(keys))}); fix the sweep's metric"
            )


def check_task_args(sweep: SweepConfig) -> None:
    """Raise when an encoding's ``task_args`` option is taken by none of its tasks (a typo
    would otherwise change nothing)."""
    for enc in sweep.encodings:
        studies = [p for p in plans(sweep) if p.encoding.label == enc.label]
        taken = {k for p in studies for k in inspect.signature(p.task_class.__init__).parameters}
        unused = [k for k in enc.task_args if k not in taken]
        if unused:
            raise PebenchError(
                f"encodings: {enc.label}'s task_args option {unused[0]!r} is taken by none of "
                f"its tasks ({', '.join(p.task.name for p in studies)}); fix or remove it"
            )


def plans(sweep: SweepConfig) -> list[StudyPlan]:
    """Every (task, encoding) pair of the sweep, tasks outermost; computed once per sweep."""
    if sweep._plans is None:
        sweep._plans = [
            StudyPlan(sweep, task, enc)
            for task in sweep.tasks
            for enc in sweep.encodings
            if enc.label not in task.skip_encodings
        ]
    return list(sweep._plans)


def sampler(
    sweep: SweepConfig, study_name: str, worker_index: int = 0, existing: int = 0
) -> optuna.samplers.BaseSampler:
    """Seeded TPE; each study and each worker draws its own stream, and parallel workers
    avoid proposing the same point (``constant_liar``). ``existing`` (the trials the study
    already holds when the sampler is made) moves a resumed or late-joining process onto a
    new stream: with the same seed it would replay the start-up proposals already tried.
    With ``sampler: grid``, Optuna's grid sampler, which skips combinations already
    finished or running in the shared storage; it numbers the combinations in an order
    shuffled by its seed, so every worker of a study gets the same seed."""
    seed = sweep.sampler_seed + zlib.crc32(study_name.encode()) % 100_000
    if sweep.sampler == "grid":
        space = {key: list(p.choices or ()) for key, p in sweep.search_space.items()}
        return optuna.samplers.GridSampler(space, seed=seed)
    seed += 1_000_003 * worker_index + 7_919 * existing
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def pruner(plan: StudyPlan) -> optuna.pruners.BasePruner:
    """The sweep's pruner; resources are training steps (reports come every eval_every)."""
    cfg = plan.sweep.pruner
    train = plan.sweep.train_settings(plan.task)
    every = int(train.get("eval_every") or 1)
    max_steps = int(train.get("max_steps", TrainConfig.max_steps))
    if cfg.type == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps
        )
    if cfg.type == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=every, max_resource=max_steps)
    if cfg.type == "threshold":
        return optuna.pruners.ThresholdPruner(
            lower=cfg.lower, upper=cfg.upper, n_warmup_steps=cfg.n_warmup_steps
        )
    if cfg.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=every)
    return optuna.pruners.NopPruner()
