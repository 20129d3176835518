"""Train one (task, encoding) run and write its results to its output directory.

Writes ``config.yaml`` (the resolved configuration), ``metrics.json`` (the run's
:class:`~pebench.benchmark.run.record.RunRecord`: results, the columns its task declares,
parameter counts, times and throughput), Lightning's log ``logs/metrics.csv`` and the last
checkpoint ``checkpoints/last.ckpt``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger

from pebench.benchmark.run.distributed import ShardedData
from pebench.benchmark.run.module import PEModule
from pebench.benchmark.run.outputs import (
    check_resumable,
    check_same_config,
    forget_failed_run,
    interrupted,
    log_version,
    prepare_output_dir,
)
from pebench.benchmark.run.processes import is_launch_zero
from pebench.benchmark.run.record import (
    CHECKPOINT,
    CONFIG_FILE,
    LOGS_DIR,
    METRICS_FILE,
    REPORT_FILES,
    RunRecord,
)
from pebench.benchmark.run.settings import GPU_ACCELERATORS
from pebench.benchmark.run.spec import RunSpec
from pebench.benchmark.run.timing import RunTimer
from pebench.errors import PebenchError
from pebench.registry import dotted_path


def check_accelerator(accelerator: str) -> None:
    """Refuse a GPU accelerator where torch sees no GPU, before anything is written (Lightning
    would fail later with "No supported gpu backend found!")."""
    if accelerator in GPU_ACCELERATORS and not torch.cuda.is_available():
        raise PebenchError(
            f"accelerator {accelerator!r} asks for a GPU but torch sees none "
            f"(torch {torch.__version__}, CUDA {torch.version.cuda or 'not built'}); "
            f"use --train.accelerator cpu (or auto), or run on a machine with a GPU"
        )


def device_record(device: torch.device, precision: str) -> dict[str, Any]:
    """Where a run trained: the device (``cuda:0``), the GPU's name, precision and versions."""
    on_gpu = device.type == "cuda"
    return {
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if on_gpu else None,
        "precision": precision,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if on_gpu else None,
    }


def encoding_name(module: PEModule) -> str:
    """The registered name of the run's encoding, or its dotted path if it has none."""
    cls = type(module.encoding)
    return cls.__dict__.get("name") or dotted_path(cls)


class StepProgressBar(RichProgressBar):
    """Lightning's rich bar, labelled by steps: pebench trains for ``max_steps`` on an endless
    stream, so Lightning's "Epoch 0/-2" means nothing."""

    def _get_train_description(self, current_epoch: int) -> str:
        text = f"Training ({self.trainer.max_steps:,} steps)"
        return f"{text:{len(self.validation_description)}}"




def _quiet_lightning() -> None:
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # on a SLURM login node or inside an allocation, a run started without srun is intended
    warnings.filterwarnings("ignore", ".*`srun` command is available on your system.*")


def build(spec: RunSpec) -> PEModule:
    """The run's LightningModule, seeded, with a forced attention path that cannot run here
    (flex on CPU, fla without CUDA) refused before anything is written."""
    seed_everything(spec.seed, workers=True, verbose=False)
    check_accelerator(spec.train.accelerator)
    module = PEModule(spec.task, spec.encoding, spec.model, spec.optim)
    if spec.train.compile:
        module.compile_training()
    on_cpu = spec.train.accelerator == "cpu" or not torch.cuda.is_available()
    module.backbone.attention_path(torch.device("cpu" if on_cpu else "cuda"))
    return module


def prepare(spec: RunSpec) -> None:
    """The output directory: checked for --resume, or made fresh with ``config.yaml`` (by
    the process the user started only, when a run spans several)."""
    output_dir = Path(spec.output_dir)
    if not is_launch_zero():
        return
    if spec.resume:
        check_resumable(output_dir, output_dir / CHECKPOINT)
        check_same_config(output_dir, spec.config_yaml)
        return
    prepare_output_dir(output_dir, spec.overwrite)
    if spec.config_yaml is not None:
        (output_dir / CONFIG_FILE).write_text(spec.config_yaml)


def trainer_for(
    spec: RunSpec, callbacks: Sequence[Callback], loggers: Sequence[Logger]
) -> Trainer:
    """Lightning's Trainer for the run: checkpoints every ``checkpoint_every`` steps, the CSV
    log, evaluation every ``eval_every`` steps and the caller's callbacks and loggers."""
    output_dir, cfg = Path(spec.output_dir), spec.train
    own: list[Callback] = [
        ModelCheckpoint(
            dirpath=(output_dir / CHECKPOINT).parent,
            save_last=True,
            save_top_k=0,
            every_n_train_steps=cfg.checkpoint_every,
        )
    ]
    if cfg.progress:
        own.append(StepProgressBar(leave=True))
    log = CSVLogger(output_dir, LOGS_DIR, version=log_version(output_dir, spec.resume))
    return Trainer(
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        # several processes get their shares from ShardedData (pebench.benchmark.run.distributed)
        use_distributed_sampler=False,
        precision=cfg.precision,
        logger=[log, *loggers],
        callbacks=[own[0], *callbacks, *own[1:]],
        val_check_interval=cfg.eval_every or cfg.max_steps,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=spec.optim.grad_clip or None,
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        fast_dev_run=cfg.fast_dev_run,
        log_every_n_steps=min(50, cfg.max_steps),
        default_root_dir=output_dir,
    )


def fit_and_evaluate(spec: RunSpec, module: PEModule, trainer: Trainer) -> float:
    """Train, evaluate the last step on validation (if training did not end on an
    evaluation) and, once, on the test split; returns the wall time in seconds. Ctrl-C
    comes back as :class:`~pebench.errors.RunInterrupted` saying what to do next."""
    output_dir = Path(spec.output_dir)
    datamodule = spec.task.datamodule(spec.train.batch_size, spec.seed)
    if spec.train.processes > 1:
        datamodule = ShardedData(datamodule)
    started = time.perf_counter()
    with warnings.catch_warnings():
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message)
        try:
            trainer.fit(
                module,
                datamodule=datamodule,
                ckpt_path=output_dir / CHECKPOINT if spec.resume else None,
            )
            if module.evaluated_at_step != trainer.global_step:
                trainer.validate(module, datamodule=datamodule, verbose=False)
            if spec.task.has_test:  # evaluated once, after training: never used for selection
                trainer.test(module, datamodule=datamodule, verbose=False)
        except SystemExit:
            if not trainer.interrupted:
                raise
            # Lightning turns Ctrl-C into exit(1) with SIGINT ignored; give callers the
            # interrupt back (sweeps re-queue the trial, the CLI exits 130 with a hint)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise interrupted(output_dir, spec.train.checkpoint_every) from None
        except Exception:
            if not spec.resume and is_launch_zero():
                forget_failed_run(output_dir)
            raise
    return time.perf_counter() - started


#: Lightning's warnings that say nothing about a pebench run
QUIET_WARNINGS = (
    ".*does not have many workers.*",
    ".*LeafSpec.*",
    ".*smaller than the logging interval.*",
    ".*IterableDataset.*has `__len__` defined.*",
    # the module counts training tokens there; the datamodules do not define the hook
    ".*overridden `on_before_batch_transfer`.*",
)


def results_of(module: PEModule) -> dict[str, Any]:
    """The results to record: validation, with the test split's under ``test``."""
    results = dict(module.last_results or {"summary": {}, "per_length": {}})
    if module.test_results is not None:
        results["test"] = dict(module.test_results)
    return results


def write_outputs(spec: RunSpec, module: PEModule) -> dict[str, Any]:
    """The task's artifacts, predictions and reports in the output directory; returns the
    results to record (validation, with the test split's under ``test``)."""
    output_dir = Path(spec.output_dir)
    results = dict(module.last_results or {"summary": {}, "per_length": {}})
    spec.task.save_artifacts(output_dir)
    module.eval()
    spec.task.write_predictions(module, output_dir)
    if "report" in results:
        (output_dir / REPORT_FILES["validation"]).write_text(results.pop("report"))
    if module.test_results is not None:
        test = dict(module.test_results)
        if "report" in test:
            (output_dir / REPORT_FILES["test"]).write_text(test.pop("report"))
        results["test"] = test
    return results


def record(
    spec: RunSpec, module: PEModule, trainer: Trainer, results: dict[str, Any], wall: float,
    timer: RunTimer, entered: float,
) -> RunRecord:  # fmt: skip
    """The run's record: what ran, its results and the columns its task declares for the
    metric it is selected on, sizes, times and where it trained."""
    model, device = spec.model, trainer.strategy.root_device
    selected_on = spec.selected_on or spec.task.monitor
    columns = spec.task.columns(selected_on, results)
    results = dict(results)
    return RunRecord(
        task=type(spec.task).__dict__.get("name") or dotted_path(type(spec.task)),
        encoding=encoding_name(module),
        encoding_variant=module.encoding.variant,
        seed=spec.seed,
        monitor=spec.task.monitor,
        positions={
            "train": "randomized" if model.randomized_positions else "plain",
            "eval": "randomized" if model.randomized_positions and model.randomize_eval
            else "plain",
            "randomized_max": model.randomized_positions,
            # only when used: the records written before Abacus stay as they are
            **({"abacus_max_k": model.abacus} if model.abacus is not None else {}),
        },  # fmt: skip
        summary=results.pop("summary", {}),
        per_length=results.pop("per_length", {}),
        test=results.pop("test", None),
        data=spec.task.data_report(),
        details=results,
        selected_on=selected_on,
        columns=columns,
        parameters=sum(p.numel() for p in module.parameters()),
        encoding_parameters=sum(p.numel() for p in module.encoding.parameters()),
        steps=trainer.global_step,
        resumed_from_step=timer.first_step if spec.resume else None,
        wall_time_s=wall,
        train_step_time_s=timer.train_step_seconds,
        tokens_per_s=module.train_tokens / max(timer.train_step_seconds, 1e-9),
        between_steps_time_s=timer.between_steps_seconds,
        eval_time_s=timer.eval_seconds,
        startup_s=timer.first_step_at - entered if timer.first_step_at else None,
        **device_record(device, str(spec.train.precision)),
        attention_path=module.backbone.attention_path(device),
        threads=torch.get_num_threads(),
    )


def requeued(spec: RunSpec) -> RunSpec:
    """The spec of a run SLURM started again (``SLURM_RESTART_COUNT`` above 0: requeued or
    preempted, the same command re-run): it continues from its checkpoint as with
    ``--resume`` when its directory holds one and no results, instead of starting over."""
    restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
    out = Path(spec.output_dir)
    if spec.resume or restarts < 1 or not (out / CHECKPOINT).is_file():
        return spec
    if (out / METRICS_FILE).exists():
        return spec
    return dataclasses.replace(spec, resume=True)


def train(
    spec: RunSpec,
    callbacks: Sequence[Callback] = (),
    loggers: Sequence[Logger] = (),
    started_at: float | None = None,
) -> RunRecord:
    """Train and evaluate one run: build, fit and evaluate, write; returns the record
    written to ``metrics.json``.

    ``callbacks`` and ``loggers`` are added to the Trainer's own (a sweep passes its pruning
    callback and a W&B logger). ``started_at`` (a ``time.perf_counter()`` value, default now)
    is when the caller began the run; ``startup_s`` counts from it to the first step.
    """
    entered = time.perf_counter() if started_at is None else started_at
    spec = requeued(spec)
    _quiet_lightning()
    # Softmax over strongly negative biases (ALiBi, KERPLE) underflows into denormal floats,
    # which x86 CPUs process many times slower; flushing them to zero changes no result.
    torch.set_flush_denormal(True)
    module = build(spec)
    prepare(spec)
    timer = RunTimer()
    trainer = trainer_for(spec, [timer, *callbacks], loggers)
    wall = fit_and_evaluate(spec, module, trainer)
    writer = is_launch_zero()
    results = write_outputs(spec, module) if writer else results_of(module)
    run = record(spec, module, trainer, results, wall, timer, entered)
    if writer:
        run.write(Path(spec.output_dir))
    return run
