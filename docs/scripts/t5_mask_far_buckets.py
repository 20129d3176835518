"""Evaluate the T5 checkpoints of the lm-extrapolation-core sweep with the buckets from FIRST
on masked (bias -1e4, so keys that far back are ignored): is the loss that T5 loses at long
evaluation lengths due to attention on distant keys? Used for docs/language-modelling.md.

Needs the sweep's checkpoints, which are not committed: re-run
`pebench sweep configs/sweeps/lm-extrapolation.yaml --output-dir results/lm-extrapolation-core`
to recreate them, then

    python docs/scripts/t5_mask_far_buckets.py 27
"""

import sys
from pathlib import Path

import torch
import yaml

from pebench.benchmark.run.module import PEModule
from pebench.benchmark.run.spec import run_spec_from_dict

ROOT = Path("results/lm-extrapolation-core/final/shakespeare/t5")


def losses(spec, module) -> dict[int, float]:
    metric = spec.task.build_metric()
    with torch.no_grad():
        for batch in spec.task.eval_batches(64):
            spec.task.evaluate(module, batch, metric)
    return {n: round(v["loss"], 3) for n, v in metric.per_length().items()}


def main(first: int) -> None:
    torch.set_num_threads(2)
    for run in sorted(ROOT.glob("seed-*")):
        config = yaml.safe_load((run / "config.yaml").read_text())
        spec, _ = run_spec_from_dict(config, run, overwrite=True)
        module = PEModule(spec.task, spec.encoding, spec.model, spec.optim)
        checkpoint = run / "checkpoints" / "last.ckpt"
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"])
        module.eval()
        trained = losses(spec, module)
        with torch.no_grad():
            module.encoding.bias.weight[first:] = -1e4
        print(f"{run.name}: as trained {trained}; buckets >= {first} masked {losses(spec, module)}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
