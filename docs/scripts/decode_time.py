"""Evaluation time of the Kazemnejad copy evaluation (decoder, input lengths 1-40, 32 strings
each, d_model 64, 2 layers, untrained weights) with the key/value cache and with the full
recompute, per encoding; median of 3. Used for docs/performance.md.

    python docs/scripts/decode_time.py rope t5 alibi learned
"""

import statistics
import sys
import time

import torch

from pebench import encodings, tasks
from pebench.backbone import Transformer
from pebench.benchmark.run.module import PEModule
from pebench.benchmark.run.spec import ModelConfig, OptimConfig


def evaluate(task, module, batches) -> tuple[float, dict]:
    metric = task.build_metric()
    started = time.perf_counter()
    with torch.no_grad():
        for batch in batches:
            task.evaluate(module, batch, metric)
    return time.perf_counter() - started, metric.compute()


def main(names: list[str]) -> None:
    torch.set_num_threads(2)
    task = tasks.get("copy")(train_lengths=(1, 20), eval_lengths=(1, 40), eval_samples=32)
    batches = list(task.datamodule(batch_size=64, seed=0).val_dataloader())
    model = ModelConfig(d_model=64, num_layers=2, num_heads=4)
    cached = Transformer.supports_cache
    for name in names:
        torch.manual_seed(0)
        module = PEModule(task, encodings.get(name), model, OptimConfig()).eval()
        times, results = {}, {}
        for mode in ("cache", "recompute"):
            Transformer.supports_cache = cached if mode == "cache" else (lambda self: False)
            runs = [evaluate(task, module, batches) for _ in range(3)]
            times[mode] = statistics.median(t for t, _ in runs)
            results[mode] = runs[-1][1]
        Transformer.supports_cache = cached
        cache, recompute = results["cache"], results["recompute"]
        same = all(torch.equal(cache[k], recompute[k]) for k in cache)
        print(
            f"{name}: cache {times['cache']:.2f} s, recompute {times['recompute']:.2f} s, "
            f"speed-up {times['recompute'] / times['cache']:.1f}x, same metrics: {same}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
