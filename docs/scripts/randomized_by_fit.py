"""Ruoss et al.'s randomized − plain OOD difference on the Chomsky tasks, split by whether
the task was learned in distribution (best encoding's ID score ≥ THRESHOLD), from a
sweep's ``leaderboard.json``. Used for docs/reproductions.md.

    python docs/scripts/randomized_by_fit.py results/algorithmic [THRESHOLD]
"""

import json
import statistics
import sys
from pathlib import Path

from pebench import tasks
from pebench.benchmark.leaderboard.groups import RANDOMIZED
from pebench.benchmark.leaderboard.significance import t_interval


def main(results: Path, threshold: float) -> None:
    rows = json.loads((results / "leaderboard.json").read_text())["rows"]
    scores = {r["encoding"].split(" ")[0]: dict(r["metrics"]) for r in rows}
    pairs = [n.removesuffix(RANDOMIZED) for n in scores if n.endswith(RANDOMIZED)]
    groups: dict[bool, list[float]] = {True: [], False: []}
    print(f"| task | best ID | {' | '.join(pairs)} |")
    chomsky = [name for name, cls in tasks.available().items() if getattr(cls, "level", None)]
    for task in chomsky:
        ids = [s[f"{task} ID"]["mean"] for s in scores.values() if f"{task} ID" in s]
        if not ids:
            continue
        diffs = [
            scores[p + RANDOMIZED][f"{task} OOD"]["mean"] - scores[p][f"{task} OOD"]["mean"]
            for p in pairs
        ]
        groups[max(ids) >= threshold] += diffs
        print(f"| {task} | {max(ids):.3f} | {' | '.join(f'{d:+.3f}' for d in diffs)} |")
    for learned, diffs in groups.items():
        if diffs:
            low, high = t_interval(diffs)
            side = "≥" if learned else "<"
            print(
                f"best ID {side} {threshold}: {len(diffs)} pairs, "
                f"{statistics.fmean(diffs):+.3f} [{low:+.3f}, {high:+.3f}]"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.7)
