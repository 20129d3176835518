"""The generic run settings (model size, optimiser, training loop) as typed dataclasses.
They import nothing heavy, so the command line checks them and prints their help before
torch and Lightning load; :mod:`pebench.benchmark.run.spec` adds the instantiated run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from pebench.choices import Activation, AttentionBackend, Init, Norm
from pebench.errors import PebenchError

Schedule = Literal["cosine", "linear"]
#: accelerator names that ask for a GPU
GPU_ACCELERATORS = ("gpu", "cuda")


def requested_threads() -> int | None:
    """CPU threads asked for in ``$PEBENCH_NUM_THREADS`` (by the user, to share the machine,
    or by ``pebench sweep`` for its workers); None when unset."""
    return int(os.environ.get("PEBENCH_NUM_THREADS") or 0) or None


def apply_requested_threads(threads: int | None = None) -> int:
    """Cap torch's CPU threads at ``threads`` (else ``$PEBENCH_NUM_THREADS``; unset: leave
    torch's default) and return the count in use. Two processes that each take every core
    spin-wait on each other: a run beside a sweep went 10× slower."""
    import torch

    if threads := threads or requested_threads():
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def _check(section: str, checks: dict[str, tuple[bool, str, object]]) -> None:
    """Raise one line for the first setting outside its range: {name: (ok, rule, value)}."""
    for name, (ok, rule, value) in checks.items():
        if not ok:
            raise PebenchError(
                f"{section}.{name} must be {rule}, got {value!r}; "
                f"set --{section}.{name.replace('_', '-')} to a valid value"
            )


def _at_least(value: int | None, low: int, optional: bool = False) -> bool:
    return (optional and value is None) or (isinstance(value, int) and value >= low)


#: d_model × num_layers at or below which a model is too small to gain from a second thread:
#: its matrices are so small that threads spend their time synchronizing (200 copy steps at
#: d64 took 18 s on one thread and 225 s on two of a busy 2-core machine)
SMALL_MODEL = 512


def choose_threads(model: ModelConfig) -> tuple[int, str]:
    """CPU threads for one run and why: ``$PEBENCH_NUM_THREADS`` (or ``--threads``) when set;
    else one for a small model, and the cores not busy with other work for a larger one."""
    if requested := requested_threads():
        return requested, "as requested"
    if model.d_model * model.num_layers <= SMALL_MODEL:
        return 1, f"a small model (d_model {model.d_model} × {model.num_layers} layers)"
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    free = max(1, min(cores, round(cores - busy)))
    return free, f"{free} of {cores} cores free (load {busy:.1f})"


@dataclass
class ModelConfig:
    """Transformer size, the same for every encoding in a comparison."""

    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    ffn_mult: int = 4
    #: feed-forward width; None = ffn_mult × d_model
    d_ff: int | None = None
    #: feed-forward activation (T5: relu)
    activation: Activation = "gelu"
    #: layer norm kind (T5: rmsnorm, no mean subtraction and no bias)
    norm: Norm = "layernorm"
    #: biases in the linear layers and LayerNorms (T5: false)
    bias: bool = True
    #: default (PyTorch's), or t5: T5's initialization with attention logits not divided by
    #: √d_head (its query initialization carries the scale)
    init: Init = "default"
    dropout: float = 0.0
    #: train on a sorted random subset of positions in [0, N) (Ruoss et al. 2023); None = 0..n−1
    randomized_positions: int | None = None
    #: also randomize positions at evaluation (else evaluation uses 0..n−1)
    randomize_eval: bool = False
    #: kernel for score biases: auto (FlexAttention on CUDA, SDPA on CPU), sdpa, or flex
    attention: AttentionBackend = "auto"
    #: add Abacus embeddings of the task's token positions (McLeish et al. 2024), shifted in
    #: training by a random offset in [0, abacus]; None = off
    abacus: int | None = None

    def __post_init__(self) -> None:
        _check("model", {
            "d_model": (_at_least(self.d_model, 1), "at least 1", self.d_model),
            "num_layers": (_at_least(self.num_layers, 1), "at least 1", self.num_layers),
            "num_heads": (_at_least(self.num_heads, 1), "at least 1", self.num_heads),
            "ffn_mult": (_at_least(self.ffn_mult, 1), "at least 1", self.ffn_mult),
            "d_ff": (_at_least(self.d_ff, 1, optional=True), "at least 1 (or null)", self.d_ff),
            "dropout": (0 <= self.dropout < 1, "in [0, 1)", self.dropout),
            "randomized_positions": (
                _at_least(self.randomized_positions, 1, optional=True), "at least 1 (or null)",
                self.randomized_positions,
            ),
            "abacus": (
                _at_least(self.abacus, 0, optional=True), "at least 0 (or null)", self.abacus
            ),
        })  # fmt: skip


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then a cosine (or linear) decay to ``min_lr_ratio × lr``."""

    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    #: AdamW's second-moment decay (nanoGPT's character-level configuration uses 0.99)
    beta2: float = 0.999
    #: decay after warm-up: cosine, or linear (Hugging Face's linear/polynomial schedule
    #: with min_lr_ratio 0)
    schedule: Schedule = "cosine"

    def __post_init__(self) -> None:
        _check("optim", {
            "lr": (self.lr > 0, "greater than 0", self.lr),
            "weight_decay": (self.weight_decay >= 0, "at least 0", self.weight_decay),
            "warmup_steps": (_at_least(self.warmup_steps, 0), "at least 0", self.warmup_steps),
            "min_lr_ratio": (0 <= self.min_lr_ratio <= 1, "in [0, 1]", self.min_lr_ratio),
            "grad_clip": (self.grad_clip >= 0, "at least 0 (0: no clipping)", self.grad_clip),
            "beta2": (0 < self.beta2 < 1, "in (0, 1)", self.beta2),
        })  # fmt: skip


@dataclass
class TrainConfig:
    """How long and where to train, and how often to evaluate."""

    max_steps: int = 2000
    batch_size: int = 64
    #: evaluate every N steps during training; ``None`` evaluates only at the end
    eval_every: int | None = None
    accelerator: str = "auto"
    #: devices per run; >1 is data parallel (DDP, pebench train only; a sweep refuses it)
    devices: int = 1
    #: machines per run (DDP across nodes: each starts the same command with its NODE_RANK)
    num_nodes: int = 1
    precision: str = "32-true"
    progress: bool = True
    #: run only N training and N evaluation batches, for smoke tests (Lightning's fast_dev_run)
    fast_dev_run: int = 0
    #: save checkpoints/last.ckpt every N steps (for --resume); None saves at evaluations only
    checkpoint_every: int | None = 500
    #: torch.compile the backbone for training steps (evaluation and decoding stay eager, so
    #: 40 evaluation lengths compile nothing); the backend is $PEBENCH_COMPILE_BACKEND
    #: (default inductor)
    compile: bool = False

    @property
    def processes(self) -> int:
        """Processes one run spans (devices × nodes); more than one is DDP."""
        return self.devices * self.num_nodes

    def __post_init__(self) -> None:
        _check("train", {
            "max_steps": (_at_least(self.max_steps, 1), "at least 1", self.max_steps),
            "batch_size": (_at_least(self.batch_size, 1), "at least 1", self.batch_size),
            "eval_every": (
                _at_least(self.eval_every, 1, optional=True), "at least 1 (or null: at the "
                "end only)", self.eval_every,
            ),
            "devices": (_at_least(self.devices, 1), "at least 1", self.devices),
            "num_nodes": (_at_least(self.num_nodes, 1), "at least 1", self.num_nodes),
            "fast_dev_run": (_at_least(self.fast_dev_run, 0), "at least 0", self.fast_dev_run),
            "checkpoint_every": (
                _at_least(self.checkpoint_every, 1, optional=True), "at least 1 (or null)",
                self.checkpoint_every,
            ),
        })  # fmt: skip
