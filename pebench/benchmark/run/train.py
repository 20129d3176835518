"""Train one (task, encoding) run and write its results to its output directory.

Writes ``config.yaml`` (the resolved configuration), ``metrics.json`` (final ID/OOD and
per-length metrics, parameter counts, wall time and training throughput), Lightning's
log ``logs/metrics.csv`` and the last checkpoint ``checkpoints/last.ckpt``.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger

from pebench.benchmark.run.module import PEModule
from pebench.benchmark.run.parser import METRICS_FILE, refuse_finished
from pebench.benchmark.run.settings import GPU_ACCELERATORS
from pebench.benchmark.run.spec import RunSpec
from pebench.errors import PebenchError, RunInterrupted
from pebench.registry import dotted_path

CONFIG_FILE = "config.yaml"
#: the last checkpoint of a run, relative to its directory (what --resume continues from)
CHECKPOINT = Path("checkpoints") / "last.ckpt"
RUN_OUTPUTS = (
    METRICS_FILE,
    CONFIG_FILE,
    "logs",
    "checkpoints",
    "vocab.json",
    "labels.json",
    "report_validation.txt",
    "report_test.txt",
)


def prepare_output_dir(path: Path, overwrite: bool) -> None:
    """Create ``path``, refusing to mix a new run into one that already has results."""
    refuse_finished(path, overwrite)
    if path.exists() and not path.is_dir():
        raise PebenchError(f"output path {path} exists and is not a directory; choose another")
    path.mkdir(parents=True, exist_ok=True)
    for name in RUN_OUTPUTS:  # what an earlier run wrote here, replaced by --overwrite
        old = path / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()


def forget_failed_run(path: Path) -> None:
    """After a run failed with nothing to resume (no checkpoint yet), remove the
    ``config.yaml`` it wrote, so the directory does not look like a run; a failure after a
    checkpoint keeps both (``--resume`` continues from it)."""
    if (path / CHECKPOINT).is_file() or (path / METRICS_FILE).exists():
        return
    (path / CONFIG_FILE).unlink(missing_ok=True)


def check_resumable(path: Path, checkpoint: Path) -> None:
    """Refuse --resume where there is nothing to continue."""
    if (path / METRICS_FILE).exists():
        raise PebenchError(
            f"{path} holds a finished run ({METRICS_FILE}); --resume continues interrupted "
            f"runs only (pass --overwrite without --resume to train it again)"
        )
    if not checkpoint.is_file():
        raise PebenchError(
            f"no checkpoint to resume from ({checkpoint} not found); run without --resume"
        )


#: settings that may change between a run and its resumption (they do not change results)
RESUME_FREE = {"output_dir", "overwrite", "resume", "train.progress", "train.accelerator"}


def _flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {prefix[:-1]: doc}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out.update(_flatten(value, f"{prefix}{key}."))
    return out


def _same(key: str, saved: Any, current: Any) -> bool:
    """Equal settings; a task's or encoding's class path names the same class even when the
    saved one predates a move of its module (``pebench.tasks.copy.Copy``)."""
    if saved == current:
        return True
    if key in ("task.class_path", "encoding.class_path") and isinstance(saved, str):
        from pebench import encodings, tasks

        registry = tasks if key == "task.class_path" else encodings
        try:
            return registry.get(saved) is registry.get(current)
        except PebenchError:
            return False
    return False


def check_same_config(path: Path, config_yaml: str | None) -> None:
    """Refuse to resume a run directory with another configuration than the one that made it
    (else a checkpoint of one encoding continues as another and metrics.json disagrees with
    config.yaml). Settings an older pebench did not write are not compared."""
    saved_file = path / CONFIG_FILE
    if config_yaml is None or not saved_file.is_file():
        return
    saved = _flatten(yaml.safe_load(saved_file.read_text()) or {})
    current = _flatten(yaml.safe_load(config_yaml) or {})
    for key, value in current.items():
        if key in RESUME_FREE or key not in saved or _same(key, saved[key], value):
            continue
        raise PebenchError(
            f"{path} was made with {key}: {saved[key]!r} but this run has {key}: {value!r}; "
            f"resume with its own configuration (--config {saved_file} --resume) or train "
            f"into another --output-dir"
        )


def _log_version(output_dir: Path, spec: RunSpec) -> str:
    """``logs/metrics.csv`` for a run; a resumed run logs into ``logs/resumed-N/`` instead,
    since Lightning's CSV logger would replace the log of the steps before the resume."""
    if not spec.resume:
        return ""
    n = 1
    while (output_dir / "logs" / f"resumed-{n}").exists():
        n += 1
    return f"resumed-{n}"


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


def interrupted(path: Path, every: int | None) -> RunInterrupted:
    """The interrupt of a run in ``path``, with what to do next: ``--resume`` when a checkpoint
    was saved, else start again (the first comes at step ``every``)."""
    if (path / CHECKPOINT).is_file():
        return RunInterrupted("; continue with the same command plus --resume")
    when = f" (the first comes at step {every})" if every else ""
    return RunInterrupted(f"; no checkpoint yet{when}: rerun the same command to start again")


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)


def train(
    spec: RunSpec,
    callbacks: Sequence[Callback] = (),
    loggers: Sequence[Logger] = (),
    started_at: float | None = None,
) -> dict[str, Any]:
    """Train and evaluate one run; returns the content written to ``metrics.json``.

    ``callbacks`` and ``loggers`` are added to the Trainer's own (a sweep passes its pruning
    callback and a W&B logger). ``started_at`` (a ``time.perf_counter()`` value, default now)
    is when the caller began the run; ``startup_s`` counts from it to the first step.
    """
    entered = time.perf_counter() if started_at is None else started_at
    output_dir = Path(spec.output_dir)
    _quiet_lightning()
    # Softmax over strongly negative biases (ALiBi, KERPLE) underflows into denormal floats,
    # which x86 CPUs process many times slower; flushing them to zero changes no result.
    torch.set_flush_denormal(True)
    seed_everything(spec.seed, workers=True, verbose=False)
    check_accelerator(spec.train.accelerator)
    module = PEModule(spec.task, spec.encoding, spec.model, spec.optim)
    if spec.train.compile:
        module.compile_training()
    on_cpu = spec.train.accelerator == "cpu" or not torch.cuda.is_available()
    # a forced path that cannot run here (flex on CPU, fla without CUDA or fla) is refused
    # before anything is written
    module.backbone.attention_path(torch.device("cpu" if on_cpu else "cuda"))
    datamodule = spec.task.datamodule(spec.train.batch_size, spec.seed)
    checkpoint = output_dir / CHECKPOINT
    if spec.resume:
        check_resumable(output_dir, checkpoint)
        check_same_config(output_dir, spec.config_yaml)
    else:
        prepare_output_dir(output_dir, spec.overwrite)
        if spec.config_yaml is not None:
            (output_dir / CONFIG_FILE).write_text(spec.config_yaml)
    cfg = spec.train
    all_callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=checkpoint.parent,
            save_last=True,
            save_top_k=0,
            every_n_train_steps=cfg.checkpoint_every,
        ),
        *callbacks,
    ]
    if cfg.progress:
        all_callbacks.append(StepProgressBar(leave=True))
    trainer = Trainer(
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        precision=cfg.precision,
        logger=[CSVLogger(output_dir, "logs", version=_log_version(output_dir, spec)), *loggers],
        callbacks=all_callbacks,
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
    device = trainer.strategy.root_device  # Lightning moves the module back to CPU at teardown
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", ".*IterableDataset.*has `__len__` defined.*")
        # the module counts training tokens there; the datamodules do not define the hook
        warnings.filterwarnings("ignore", ".*overridden `on_before_batch_transfer`.*")
        try:
            trainer.fit(
                module, datamodule=datamodule, ckpt_path=checkpoint if spec.resume else None
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
            raise interrupted(output_dir, cfg.checkpoint_every) from None
        except Exception:
            if not spec.resume:
                forget_failed_run(output_dir)
            raise
    wall = time.perf_counter() - started
    results = dict(module.last_results or {"summary": {}, "per_length": {}})
    spec.task.save_artifacts(output_dir)
    module.eval()
    spec.task.write_predictions(module, output_dir)
    if "report" in results:
        (output_dir / "report_validation.txt").write_text(results.pop("report"))
    if module.test_results is not None:
        test = dict(module.test_results)
        if "report" in test:
            (output_dir / "report_test.txt").write_text(test.pop("report"))
        results["test"] = test
    parameters = sum(p.numel() for p in module.parameters())
    data_report = spec.task.data_report()
    if data_report is not None:
        results["data"] = data_report
    metrics = {
        "task": type(spec.task).__dict__.get("name") or dotted_path(type(spec.task)),
        "encoding": encoding_name(module),
        "encoding_variant": module.encoding.variant,
        "seed": spec.seed,
        "monitor": spec.task.monitor,
        "positions": {
            "train": "randomized" if spec.model.randomized_positions else "plain",
            "eval": "randomized"
            if spec.model.randomized_positions and spec.model.randomize_eval
            else "plain",
            "randomized_max": spec.model.randomized_positions,
        },
        **results,
        "parameters": parameters,
        "encoding_parameters": sum(p.numel() for p in module.encoding.parameters()),
        "steps": trainer.global_step,
        # times below count this process only; a resumed run began at this step
        "resumed_from_step": module.first_step if spec.resume else None,
        "wall_time_s": wall,
        "train_step_time_s": module.train_step_seconds,
        "tokens_per_s": module.train_tokens / max(module.train_step_seconds, 1e-9),
        "between_steps_time_s": module.between_steps_seconds,
        "eval_time_s": module.eval_seconds,
        "startup_s": module.first_step_at - entered if module.first_step_at else None,
        **device_record(device, str(cfg.precision)),
        "attention_path": module.backbone.attention_path(device),
        "threads": torch.get_num_threads(),
    }
    (output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
