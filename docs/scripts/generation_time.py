"""Time to generate one training batch of each Chomsky-hierarchy task (batch 128, input
length 40) against one training step of a d_model 64, 2-layer model (RoPE, 4 heads) on that
batch, on one CPU thread; medians of 20 after 3 warm-ups. Used for docs/performance.md.

    python docs/scripts/generation_time.py [TASK ...]
"""

import statistics
import sys
import time

import numpy as np
import torch

from pebench import encodings, tasks
from pebench.benchmark.run.module import PEModule
from pebench.benchmark.run.spec import ModelConfig, OptimConfig
from pebench.tasks.chomsky.tape import TapeTask

BATCH, LENGTH, REPEATS = 128, 40, 20


def median_time(work) -> float:
    for _ in range(3):
        work()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    chomsky = sorted(n for n, cls in tasks.available().items() if issubclass(cls, TapeTask))
    print(f"{'task':28s} {'generate':>9s} {'step':>8s} {'ratio':>6s}")
    for name in names or chomsky:
        task = tasks.get(name)()
        rng = np.random.default_rng(0)

        def generate(task=task, rng=rng):
            return task.make_batch(*task.sample(rng, BATCH, LENGTH), LENGTH)

        batch = generate()
        torch.manual_seed(0)
        model = ModelConfig(d_model=64, num_layers=2, num_heads=4)
        module = PEModule(task, encodings.get("rope"), model, OptimConfig())
        optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)

        def step(task=task, module=module, optimizer=optimizer, batch=batch):
            optimizer.zero_grad()
            task.loss(module, batch).backward()
            optimizer.step()

        made, trained = median_time(generate), median_time(step)
        print(f"{name:28s} {made * 1e3:7.2f}ms {trained * 1e3:6.1f}ms {made / trained:6.1%}")


if __name__ == "__main__":
    main(sys.argv[1:])
