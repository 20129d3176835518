"""``pebench bench``: what each encoding costs, measured beside PyTorch's own Transformer.

For one model size it times a full training step (forward, backward, optimizer) and an
inference forward pass of the pebench backbone with each encoding, and of a baseline built
from :class:`torch.nn.TransformerEncoderLayer` with sinusoidal positions added: warm-up
steps first, then the median over repeats. Peak memory is the CUDA allocator's peak, or on
CPU the growth of the process's peak resident set, each measurement running in its own
process so that earlier ones do not leak into it. On CUDA the training throughput is also
expressed as model FLOP/s and MFU (PaLM's accounting, Chowdhery et al. 2022, appendix B).
"""

from __future__ import annotations

import functools
import inspect
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.table import Table
from torch import Tensor, nn

from pebench import encodings
from pebench.backbone import Transformer
from pebench.benchmark.run.settings import apply_requested_threads
from pebench.encodings.base import ModelDims
from pebench.encodings.sinusoidal import sinusoid_table
from pebench.errors import PebenchError
from pebench.kernels.dispatch import fused_adamw

#: the name under which the torch.nn.TransformerEncoderLayer model is reported
BASELINE = "torch_baseline"
#: the encoding every other one is compared with
REFERENCE = "none"
#: dense bf16 peak FLOP/s (no sparsity) by device-name fragment; first match wins
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
)


@dataclass(frozen=True)
class BenchSize:
    """The model and batch measured; the same for every encoding and the baseline."""

    d_model: int = 256
    num_layers: int = 4
    num_heads: int = 8
    seq_len: int = 512
    batch_size: int = 8
    causal: bool = True
    vocab_size: int = 256
    #: --model.attention of every encoding: auto, sdpa or flex (e.g. Shaw and Transformer-XL
    #: through FlexAttention, which auto does not choose yet)
    attention: str = "auto"

    def dims(self) -> ModelDims:
        return ModelDims(self.d_model, self.num_heads, self.num_layers, self.causal)


@dataclass(frozen=True)
class BenchOptions:
    """How to measure."""

    device: str = "cpu"
    #: "32" (float32) or "bf16" (bfloat16 autocast)
    precision: str = "32"
    compile: bool = False
    #: PyTorch's fused AdamW also on CPU (on CUDA it is the default, as in training)
    fused_adam: bool = False
    warmup: int = 2
    repeats: int = 3
    #: training steps (and inference passes) timed per repeat
    steps: int = 3
    #: run each measurement in a fresh process (needed for peak memory on CPU)
    isolate: bool = True
    #: override the device's dense bf16 peak, in TFLOP/s, for MFU
    peak_tflops: float | None = None
    #: seconds an isolated measurement may take before it is a failed row (None: no limit)
    timeout: float | None = None


@dataclass
class Measurement:
    """One model's figures; ratios are filled in once every model is measured. A model that
    could not be measured (out of memory, a kernel that fails) keeps its ``error`` instead."""

    name: str
    params: int | None
    train_step_ms: float | None
    train_tokens_per_s: float | None
    infer_tokens_per_s: float | None
    peak_memory_mb: float | None
    model_tflops: float | None = None
    mfu: float | None = None
    ratios: dict[str, float] = field(default_factory=dict)
    #: the attention path it ran (see pebench.kernels.dispatch)
    attention_path: str | None = None
    error: str | None = None

    @classmethod
    def failed(cls, name: str, error: str) -> Measurement:
        return cls(name, None, None, None, None, None, error=error)


class PebenchLM(nn.Module):
    """The pebench backbone with one encoding and a token head."""

    def __init__(self, size: BenchSize, encoding: Callable[[ModelDims], nn.Module]) -> None:
        super().__init__()
        dims = size.dims()
        self.backbone = Transformer(size.vocab_size, dims, encoding(dims), attention=size.attention)
        self.head = nn.Linear(size.d_model, size.vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.backbone(tokens))


class TorchBaselineLM(nn.Module):
    """The same sizes built from ``torch.nn.TransformerEncoderLayer`` (pre-LN, GELU, no
    dropout) with sinusoidal positions added to the embeddings: what a user would write
    without pebench."""

    def __init__(self, size: BenchSize) -> None:
        super().__init__()
        self.causal = size.causal
        self.embedding = nn.Embedding(size.vocab_size, size.d_model)
        layer = nn.TransformerEncoderLayer(
            size.d_model,
            size.num_heads,
            4 * size.d_model,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, size.num_layers, nn.LayerNorm(size.d_model), enable_nested_tensor=False
        )
        self.head = nn.Linear(size.d_model, size.vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        t = tokens.shape[1]
        x = self.embedding(tokens) + sinusoid_table(
            torch.arange(t, device=tokens.device), self.embedding.embedding_dim
        )
        mask = (
            nn.Transformer.generate_square_subsequent_mask(t, tokens.device)
            if self.causal
            else None
        )
        return self.head(self.encoder(x, mask=mask, is_causal=self.causal))


def build_model(name: str, size: BenchSize) -> nn.Module:
    """The model measured under ``name``: the baseline or an encoding (name or dotted path)."""
    if name == BASELINE:
        return TorchBaselineLM(size)
    cls = encodings.get(name)
    if "max_positions" in inspect.signature(cls).parameters:  # a table must cover seq_len
        return PebenchLM(size, functools.partial(cls, max_positions=size.seq_len))
    return PebenchLM(size, cls)


def flops_per_token(model: nn.Module, size: BenchSize) -> float:
    """Training FLOPs per token: 6·N (non-embedding parameters) + 12·layers·d_model·seq_len
    for attention scores and values (PaLM appendix B)."""
    embedding = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Embedding))
    n = sum(p.numel() for p in model.parameters()) - embedding
    return 6.0 * n + 12.0 * size.num_layers * size.d_model * size.seq_len


def peak_flops(device: torch.device, override_tflops: float | None) -> float | None:
    """The device's dense bf16 peak in FLOP/s, from ``override_tflops`` or the name table."""
    if override_tflops is not None:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16 if key in name), None)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _median_seconds(fn: Callable[[], None], options: BenchOptions, device: torch.device) -> float:
    """Median over repeats of the mean time of ``options.steps`` calls, after warm-up."""
    for _ in range(options.warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(options.repeats):
        start = time.perf_counter()
        for _ in range(options.steps):
            fn()
        _sync(device)
        times.append((time.perf_counter() - start) / options.steps)
    return statistics.median(times)


def measure(name: str, size: BenchSize, options: BenchOptions) -> Measurement:
    """Time training and inference of one model in this process."""
    device = torch.device(options.device)
    torch.manual_seed(0)
    torch.set_flush_denormal(True)  # as pebench.benchmark.run.train does
    rss_before = _rss_mb() if device.type == "cpu" else 0.0
    model = build_model(name, size).to(device)
    params = sum(p.numel() for p in model.parameters())
    backbone = getattr(model, "backbone", None)
    with torch.no_grad():  # the path training takes; a forced flex on CPU is refused later
        path = backbone.attention_path(device) if backbone is not None else "sdpa"
    flops = flops_per_token(model, size)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=1e-4, fused=True if options.fused_adam else fused_adamw(device)
    )
    step_model: Callable[[Tensor], Tensor] = torch.compile(model) if options.compile else model
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=options.precision == "bf16")
    tokens = torch.randint(size.vocab_size, (size.batch_size, size.seq_len), device=device)
    targets = torch.randint(size.vocab_size, (size.batch_size, size.seq_len), device=device)

    def train_step() -> None:
        with autocast:
            logits = step_model(tokens)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def infer() -> None:
        with torch.inference_mode(), autocast:
            step_model(tokens)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    step_s = _median_seconds(train_step, options, device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = _peak_rss_mb() - rss_before if options.isolate else None
    model.eval()
    infer_s = _median_seconds(infer, options, device)
    n_tokens = size.batch_size * size.seq_len
    result = Measurement(name, params, 1e3 * step_s, n_tokens / step_s, n_tokens / infer_s, peak)
    result.attention_path = path
    device_peak = peak_flops(device, options.peak_tflops)
    result.model_tflops = flops * result.train_tokens_per_s / 1e12
    if device_peak:
        result.mfu = result.model_tflops * 1e12 / device_peak
    return result


def _child_main(request_file: str) -> None:
    """Entry point of the measuring process: read the request, write the result beside it."""
    apply_requested_threads()
    request = json.loads(Path(request_file).read_text())
    size, options = BenchSize(**request["size"]), BenchOptions(**request["options"])
    result = measure(request["name"], size, options)
    Path(request_file).with_suffix(".result.json").write_text(json.dumps(asdict(result)))


def measure_isolated(name: str, size: BenchSize, options: BenchOptions) -> Measurement:
    """``measure`` in a fresh interpreter, so that its peak memory is its own."""
    with tempfile.TemporaryDirectory(prefix="pebench-bench-") as tmp:
        request = Path(tmp) / "request.json"
        request.write_text(
            json.dumps({"name": name, "size": asdict(size), "options": asdict(options)})
        )
        code = f"from pebench.benchmark.bench import _child_main; _child_main({str(request)!r})"
        try:
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True,
                timeout=options.timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PebenchError(
                f"benchmarking {name!r} took longer than {options.timeout:g} s (--timeout)"
            ) from None
        result = request.with_suffix(".result.json")
        if done.returncode != 0 or not result.exists():
            lines = (done.stderr or "").strip().splitlines()
            why = lines[-1] if lines else f"exit code {done.returncode}, out of memory?"
            raise PebenchError(f"benchmarking {name!r} failed: {why}")
        return Measurement(**json.loads(result.read_text()))


def add_ratios(results: Sequence[Measurement]) -> None:
    """Step-time, throughput and memory ratios to the baseline and to ``none`` where present."""
    by_name = {r.name: r for r in results if r.error is None}
    for other in (BASELINE, REFERENCE):
        ref = by_name.get(other)
        if ref is None:
            continue
        for r in by_name.values():
            r.ratios[f"step_vs_{other}"] = r.train_step_ms / ref.train_step_ms
            r.ratios[f"throughput_vs_{other}"] = r.train_tokens_per_s / ref.train_tokens_per_s
            if r.peak_memory_mb is not None and ref.peak_memory_mb:
                r.ratios[f"memory_vs_{other}"] = r.peak_memory_mb / ref.peak_memory_mb


def check_names(names: Sequence[str], size: BenchSize) -> list[str]:
    """Resolve every name up front (clear error for a typo) and drop encodings that cannot
    run in this formulation, saying so."""
    usable = []
    for name in names:
        if name == BASELINE:
            usable.append(name)
            continue
        cls = encodings.get(name)
        if not size.causal and not cls.supports_bidirectional:
            continue
        usable.append(name)
    if not usable:
        raise PebenchError("nothing to benchmark: give at least one encoding that fits")
    return usable


def run_bench(
    names: Sequence[str],
    size: BenchSize,
    options: BenchOptions,
    on_result: Callable[[Measurement], None] | None = None,
) -> list[Measurement]:
    """Measure the baseline and every encoding in ``names`` at ``size``."""
    device = torch.device(options.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PebenchError("--device cuda asked for but torch sees no CUDA device; use cpu")
    if options.precision not in ("32", "bf16"):
        raise PebenchError(f"--precision must be 32 or bf16, got {options.precision!r}")
    if min(options.repeats, options.steps) < 1 or options.warmup < 0:
        raise PebenchError("--repeats and --steps must be at least 1, --warmup at least 0")
    measure_one = measure_isolated if options.isolate else measure
    apply_requested_threads()  # each isolated child applies it again in _child_main
    results = []
    usable = check_names(names, size)
    first = [n for n in (BASELINE, REFERENCE) if n == BASELINE or n in usable]
    for name in [*first, *[n for n in usable if n not in first]]:
        try:
            results.append(measure_one(name, size, options))
        except PebenchError as exc:  # one model failing (out of memory, say) is its row
            if not options.isolate:
                raise
            results.append(Measurement.failed(name, str(exc)))
        if on_result is not None:
            on_result(results[-1])
    add_ratios(results)
    return results


def environment(options: BenchOptions) -> dict[str, Any]:
    """Where the figures were taken."""
    device = torch.device(options.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = peak_flops(device, options.peak_tflops)
    return {
        "device": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "peak_tflops": peak / 1e12 if peak else None,
    }


def write_json(
    path: Path,
    results: Sequence[Measurement],
    size: BenchSize,
    options: BenchOptions,
    data_ms: float | None = None,
) -> None:
    """Save everything measured, with the sizes, options and data-loader time, as JSON."""
    document = {
        "size": asdict(size),
        "options": asdict(options),
        "environment": environment(options),
        "synthetic_batch_ms": data_ms,
        "results": [asdict(r) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, allow_nan=False, default=str) + "\n")


def tokens_per_second(path: Path) -> dict[str, float]:
    """Training tokens/s by encoding from a ``pebench bench`` JSON file (for the leaderboard)."""
    try:
        document = json.loads(path.read_text())
        return {
            r["name"]: float(r["train_tokens_per_s"])
            for r in document["results"]
            if r.get("train_tokens_per_s") is not None
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PebenchError(f"{path} is not a pebench bench result: {exc}") from exc


def bench_device(path: Path) -> str:
    """The device a ``pebench bench`` file was measured on (its environment's name)."""
    try:
        return str(json.loads(path.read_text())["environment"]["device"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PebenchError(f"{path} is not a pebench bench result: {exc}") from exc


def data_seconds(size: BenchSize, batches: int = 20) -> float:
    """Median time to draw one training batch of ``size`` from the copy task's data loader
    (inputs of length ``seq_len``), to compare with a training step."""
    from pebench.tasks.synthetic.copy import Copy

    n = max(1, size.seq_len // 2)
    task = Copy(train_lengths=(n, n), eval_lengths=(n, n))
    stream = iter(task.datamodule(size.batch_size, seed=0).train_dataloader())
    next(stream)
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        next(stream)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _figure(value: float | None, spec: str = ",.0f") -> str:
    return "–" if value is None else format(value, spec)


def tables(
    results: Sequence[Measurement], size: BenchSize, options: BenchOptions
) -> list[Table]:
    """The terminal tables, one row per model: absolute costs, then ratios to the baseline
    and to ``none``. Two tables of at most six columns each stay readable at 80 columns
    without cutting a figure to ``…``."""
    kind = "causal" if size.causal else "bidirectional"
    title = (
        f"Training step and inference, {options.device} {options.precision}"
        f"{' compiled' if options.compile else ''}: d_model {size.d_model}, "
        f"{size.num_layers} layers, {size.num_heads} heads, length {size.seq_len}, "
        f"batch {size.batch_size}, {kind}"
    )
    headers = ["model", "params", "step\nms", "train\ntok/s", "infer\ntok/s", "peak\nMiB"]
    costs = _table(title, headers)
    for r in results:
        if r.error is not None:
            costs.add_row(r.name, "failed", "–", "–", "–", "–")
            continue
        costs.add_row(
            r.name,
            _figure(r.params, ","),
            _figure(r.train_step_ms, ",.1f"),
            _figure(r.train_tokens_per_s),
            _figure(r.infer_tokens_per_s),
            _figure(r.peak_memory_mb),
        )
    with_mfu = any(r.mfu is not None for r in results)
    headers = ["model", "tok/s\nvs torch", "step\nvs none", "memory\nvs none", "path"]
    relative = _table("Relative cost", headers + (["TFLOP/s", "MFU"] if with_mfu else []))
    for r in results:
        row = [
            r.name,
            _ratio(r.ratios.get(f"throughput_vs_{BASELINE}")),
            _ratio(r.ratios.get(f"step_vs_{REFERENCE}")),
            _ratio(r.ratios.get(f"memory_vs_{REFERENCE}")),
            r.attention_path or "–",
        ]
        if with_mfu:
            row += [_figure(r.model_tflops, ".1f"), "–" if r.mfu is None else f"{100 * r.mfu:.1f}%"]
        relative.add_row(*row)
    failed = [r for r in results if r.error is not None]
    if failed:
        errors = Table(title="Not measured")
        errors.add_column("model", no_wrap=True)
        errors.add_column("why")
        for r in failed:
            errors.add_row(r.name, r.error)
        return [costs, relative, errors]
    return [costs, relative]


def _table(title: str, headers: Sequence[str]) -> Table:
    out = Table(title=title)
    for i, header in enumerate(headers):
        # figures never wrap or shorten (the headers are split over two lines instead)
        out.add_column(header, justify="left" if i == 0 else "right", no_wrap=True)
    return out
