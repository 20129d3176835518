"""Training step time against sequence length from `pebench bench` files, with the exponent
of a power-law fit per encoding (scipy.stats.linregress on log time vs log length). Used for
docs/performance.md:

    for n in 256 512 1024 2048; do
      pebench bench --encodings none rope alibi t5 --seq-len $n --warmup 1 --repeats 2 \\
        --steps 2 --output runs/bench/scaling-$n.json
    done
    python docs/scripts/length_scaling.py runs/bench/scaling-*.json \
      --plot docs/img/step_time_vs_length.png
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--plot", type=Path, required=True)
    args = parser.parse_args()
    times: dict[str, dict[int, float]] = {}
    for file in args.files:
        data = json.loads(file.read_text())
        length = data["size"]["seq_len"]
        for result in data["results"]:
            times.setdefault(result["name"], {})[length] = result["train_step_ms"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    lengths_all = sorted(next(iter(times.values())))
    print("| model | " + " | ".join(str(n) for n in lengths_all) + " | exponent |")
    for name, by_length in sorted(times.items()):
        lengths = np.array(sorted(by_length))
        ms = np.array([by_length[n] for n in lengths])
        fit = stats.linregress(np.log(lengths), np.log(ms))
        ax.plot(lengths, ms, marker=".", label=f"{name} (n^{fit.slope:.2f})")
        cells = " | ".join(f"{t:,.0f}" for t in ms)
        print(f"| {name} | {cells} | {fit.slope:.2f} ± {fit.stderr:.2f} |")
    ax.set(xscale="log", yscale="log", xlabel="sequence length", ylabel="training step (ms)")
    ax.minorticks_off()
    ax.set_xticks(lengths_all, [str(n) for n in lengths_all])
    ax.legend(fontsize="small")
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=100)


if __name__ == "__main__":
    main()
