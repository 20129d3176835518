"""The one LightningModule: any encoding on the shared backbone, trained on any task."""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning_utilities.core.apply_func import apply_to_collection
from torch import Tensor

from pebench.backbone import KVCache, Transformer, check_dims, greedy_decode
from pebench.benchmark.run.spec import EncodingFactory, ModelConfig, OptimConfig
from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.errors import DivergedError, PebenchError
from pebench.kernels.dispatch import fused_adamw
from pebench.tasks.base import Batch, Task
from pebench.tasks.metrics import SummedMetric

#: torch.compile backend of --train.compile (tests use aot_eager: traced, no C++ build)
COMPILE_BACKEND_ENV = "PEBENCH_COMPILE_BACKEND"
#: training steps between the host's reads of the divergence record: reading the loss back
#: every step would make the CPU wait for the GPU once per step
FINITE_CHECK_EVERY = 50


def pinned(batch: Any, device: torch.device) -> Any:
    """``batch`` in page-locked memory when it goes to a GPU: copying pageable memory makes
    the host wait for every kernel queued before it, a pinned copy is queued like a kernel."""
    if device.type != "cuda":
        return batch
    return apply_to_collection(batch, Tensor, Tensor.pin_memory)


class PEModule(LightningModule):
    """Backbone + task head; the task supplies loss, metric and evaluation."""

    def __init__(
        self, task: Task, encoding: EncodingFactory, model: ModelConfig, optim: OptimConfig
    ) -> None:
        super().__init__()
        self.task, self.optim = task, optim
        dims = ModelDims(model.d_model, model.num_heads, model.num_layers, causal=task.causal)
        check_dims(dims)
        self.backbone = Transformer(
            task.vocab_size,
            dims,
            encoding(dims),
            model.ffn_mult,
            model.dropout,
            model.randomized_positions,
            model.randomize_eval,
            model.attention,
            d_ff=model.d_ff,
            activation=model.activation,
            norm=model.norm,
            bias=model.bias,
            init=model.init,
            abacus=model.abacus,
        )
        if model.abacus is not None and not task.supplies_token_positions:
            raise PebenchError(
                f"model.abacus embeds the positions a task supplies per token, and task "
                f"{task.name!r} supplies none; use it with addition or multiplication, or drop it"
            )
        self.head = task.build_head(model.d_model)
        self.metric = task.build_metric()
        self.last_results: dict[str, Any] | None = None
        self.test_results: dict[str, Any] | None = None
        self.evaluated_at_step = -1
        #: training tokens, counted on the host before each batch moves to the device (the
        #: run's times are :class:`~pebench.benchmark.run.timing.RunTimer`'s)
        self.train_tokens = 0
        #: the first step whose loss was not finite (−1: none yet) and that loss, kept on the
        #: device and read by :meth:`check_finite` every FINITE_CHECK_EVERY steps
        self._diverged_at: Tensor | None = None
        self._diverged_loss: Tensor | None = None
        self._compiled: Any = None

    @property
    def encoding(self) -> PositionalEncoding:
        return self.backbone.encoding

    def compile_training(self) -> None:
        """Run training steps through ``torch.compile`` of the backbone (``--train.compile``);
        evaluation and decoding keep the eager backbone, whose shapes vary most."""
        backend = os.environ.get(COMPILE_BACKEND_ENV, "inductor")
        # kept out of the module tree: the state dict (checkpoints) holds the backbone once
        object.__setattr__(self, "_compiled", torch.compile(self.backbone, backend=backend))

    def forward(
        self,
        tokens: Tensor,
        padding_mask: Tensor | None = None,
        positions: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        use_compiled = self._compiled is not None and self.training and cache is None
        backbone = self._compiled if use_compiled else self.backbone
        token_positions = self.task.token_positions(tokens) if self.backbone.abacus else None
        hidden = backbone(tokens, positions, padding_mask, cache, token_positions)
        return self.head(hidden, padding_mask)

    def greedy(self, prefix: Tensor, steps: int) -> Tensor:
        """``steps`` greedily decoded tokens after ``prefix`` (key/value cache when possible)."""
        return greedy_decode(self, self.backbone, prefix, steps)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self.task.loss(self, batch)
        self._record_divergence(loss.detach())
        # a progress-bar value is read back every step; only ask for it when a bar shows it
        self.log("train/loss", loss, prog_bar=self.trainer.progress_bar_callback is not None)
        return loss

    def _record_divergence(self, loss: Tensor) -> None:
        """Note (on the device, without waiting for it) the first step with a non-finite loss."""
        if self._diverged_at is None:
            self._diverged_at = torch.full((), -1, dtype=torch.long, device=loss.device)
            self._diverged_loss = torch.zeros((), dtype=loss.dtype, device=loss.device)
        bad = ~torch.isfinite(loss)
        if self.trainer.world_size > 1:  # a non-finite loss on any process is the run's
            shared = bad.to(torch.float32)
            torch.distributed.all_reduce(shared, op=torch.distributed.ReduceOp.MAX)
            bad = shared > 0
            loss = torch.where(bad & torch.isfinite(loss), torch.nan, loss)
        first = bad & (self._diverged_at < 0)
        self._diverged_at = torch.where(first, self.global_step, self._diverged_at)
        self._diverged_loss = torch.where(first, loss, self._diverged_loss)

    def check_finite(self) -> None:
        """Raise :class:`DivergedError` if a training loss so far was NaN or infinite."""
        if self._diverged_at is None or int(self._diverged_at) < 0:
            return
        raise DivergedError(
            f"training diverged: the loss is {self._diverged_loss.item()} at step "
            f"{int(self._diverged_at)}; lower the learning rate or enable gradient clipping"
        )

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if self.trainer.training:  # counted on the host, before the batch moves to a GPU
            self.train_tokens += self.task.count_tokens(batch)
        return pinned(batch, self.device)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.global_step % FINITE_CHECK_EVERY == 0:
            self.check_finite()

    def on_train_end(self) -> None:
        self.check_finite()
        if self.trainer.world_size > 1:  # every process's tokens
            self.train_tokens = int(self.all_gather(torch.tensor(self.train_tokens)).sum())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.check_finite()  # a diverged model is never saved, so never resumed

    def on_validation_start(self) -> None:
        self.check_finite()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.task.evaluate(self, batch, self.metric)

    test_step = validation_step

    def _finish_evaluation(self, prefix: str) -> dict[str, Any]:
        """The task's results for the epoch just evaluated, logged under ``prefix/``."""
        if isinstance(self.metric, SummedMetric):
            self.metric.sum_across_processes()
        results = self.task.results(self.metric)
        logged = {f"{prefix}/{k}": v for k, v in results["summary"].items() if v is not None}
        self.log_dict(logged)
        self.metric.reset()
        return results

    def on_validation_epoch_end(self) -> None:
        self.last_results = self._finish_evaluation("val")
        self.evaluated_at_step = self.global_step

    def on_test_epoch_end(self) -> None:
        self.test_results = self._finish_evaluation("test")

    def configure_optimizers(self) -> dict[str, Any]:
        decay = [p for p in self.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.parameters() if p.ndim < 2]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.optim.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=self.optim.lr,
            betas=(0.9, self.optim.beta2),
            fused=fused_adamw(self.device),
        )
        total = max(1, self.trainer.max_steps)
        warmup, floor = self.optim.warmup_steps, self.optim.min_lr_ratio
        linear = self.optim.schedule == "linear"

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            shape = 1 - progress if linear else 0.5 * (1 + math.cos(math.pi * progress))
            return floor + (1 - floor) * shape

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
