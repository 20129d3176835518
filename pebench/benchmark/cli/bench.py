"""``pebench bench``: time each encoding's training step and inference."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.benchmark.cli.arguments import parse_simple, simple_parser
from pebench.errors import PebenchError


def _bench_argv(argv: Sequence[str]) -> list[str]:
    """``--seq-len`` → ``--seq_len``, ``--layers``/``--heads`` short forms, and the names
    after ``--encodings`` gathered into one list."""
    short = {"--layers": "--num_layers", "--heads": "--num_heads"}
    out: list[str] = []
    names: list[str] | None = None
    for arg in argv:
        if arg.startswith("--"):
            flag = short.get(arg, "--" + arg[2:].replace("-", "_"))
            names = [] if flag == "--encodings" else None
            out.extend(["--encodings", "[]"] if names is not None else [flag])
        elif names is not None:
            names.append(arg)
            out[-1] = json.dumps(names)
        else:
            out.append(arg)
    return out


def cmd_bench(argv: Sequence[str], console: Console) -> list[Any]:
    from pebench import encodings
    from pebench.benchmark import bench

    parser = simple_parser(
        "bench", "Time training and inference of encodings beside torch.nn.TransformerEncoder."
    )
    size, options = bench.BenchSize(), bench.BenchOptions()
    parser.add_argument("--encodings", type=list[str] | None, default=None, help="default: all")
    for group in (size, options):
        for name, value in vars(group).items():
            kind = type(value) if value is not None else float | None
            parser.add_argument(f"--{name}", type=kind, default=value)
    parser.add_argument("--output", type=str, default="runs/bench/bench.json", help="JSON file")
    cfg = parse_simple(parser, _bench_argv(argv))
    size = bench.BenchSize(**{k: cfg[k] for k in vars(size)})
    options = bench.BenchOptions(**{k: cfg[k] for k in vars(options)})
    names = cfg.encodings or list(encodings.available())
    output = Path(cfg.output)
    if output.exists() and not output.is_file():
        raise PebenchError(f"--output {output} is a directory; give a file name such as bench.json")
    measured: list[Any] = []
    with console.status("measuring") as status:

        def keep(result: Any) -> None:  # a killed bench still leaves what it measured
            measured.append(result)
            bench.write_json(output, measured, size, options)
            status.update(f"measured {result.name}; measuring next")

        results = bench.run_bench(names, size, options, keep)
    data_ms = 1e3 * bench.data_seconds(size)
    bench.write_json(output, results, size, options, data_ms)
    for table in bench.tables(results, size, options):
        console.print(table)
    none = next((r for r in results if r.name == bench.REFERENCE), None)
    share = ""
    if none is not None and none.train_step_ms:
        share = f" ({100 * data_ms / none.train_step_ms:.1f}% of a `none` step)"
    console.print(f"synthetic data: {data_ms:.2f} ms per batch{share}")
    console.print(f"results written to {output}")
    return []
