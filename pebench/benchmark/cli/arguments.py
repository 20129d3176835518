"""What every command shares: short flags, registered names turned into the dotted paths
jsonargparse resolves, ``--wandb``/``--threads``, and the parser of a command's own options
with its one-line errors."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from pebench.errors import PebenchError

#: short flag → the jsonargparse key it stands for
ALIASES = {
    "--max-steps": "--train.max_steps",
    "--batch-size": "--train.batch_size",
    "--eval-every": "--train.eval_every",
    "--output-dir": "--output_dir",
    "--worker-index": "--worker_index",
    "--budget-of": "--budget_of",
    "--d-model": "--model.d_model",
    "--layers": "--model.num_layers",
    "--heads": "--model.num_heads",
    "--lr": "--optim.lr",
    "--formulation": "--task.formulation",
}


def expanded(argv: Sequence[str]) -> list[str]:
    """Arguments with ``--option=value`` split in two and short flags expanded."""
    tokens: list[str] = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            tokens.extend(arg.split("=", 1))
        else:
            tokens.append(arg)
    return [ALIASES.get(token, token) for token in tokens]


def preprocess(argv: Sequence[str]) -> list[str]:
    """Expand short flags and registered names into what jsonargparse understands."""
    from pebench.benchmark.run.parser import option_values, plugin_value
    from pebench.benchmark.run.spec import PLUGIN_KEYS, load_config, normalize_plugin

    tokens = expanded(argv)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        flag = tokens[i]
        i += 1
        key = flag[2:]
        if key == "config":
            values, i = option_values(tokens, i)
            if not values:
                raise PebenchError(f"{flag} needs a value")
            out.extend(item for path in values for item in ("--config", load_config(path)))
        elif key in PLUGIN_KEYS:
            values, i = option_values(tokens, i)
            value = normalize_plugin(key, plugin_value(flag, values))
            out.extend([flag, value if isinstance(value, str) else json.dumps(value)])
        elif key.endswith(".help") and key[:-5] in PLUGIN_KEYS and i < len(tokens):
            out += [flag, normalize_plugin(key[:-5], tokens[i])]  # --task.help copy
            i += 1
        else:
            out.append(flag)
    from pebench.benchmark.run.parser import undashed

    return undashed(out)


def pop_option(argv: Sequence[str], flag: str) -> tuple[str | None, list[str]]:
    """The value of ``flag VALUE`` (or ``flag=VALUE``) and the arguments without it."""
    rest = list(argv)
    for i, arg in enumerate(rest):
        if arg == flag or arg.startswith(flag + "="):
            inline = "=" in arg
            value = arg.split("=", 1)[1] if inline else (rest[i + 1 : i + 2] or [""])[0]
            del rest[i : i + (1 if inline else 2)]
            return value, rest
    return None, rest


def pop_wandb(argv: Sequence[str]) -> tuple[str, list[str]]:
    """``--wandb MODE`` taken out of a train/compare command line: the W&B mode (``disabled``
    unless given; ``online`` needs ``wandb login`` or ``WANDB_API_KEY``) and the rest."""
    from pebench.benchmark.run.tracking import MODES

    mode, rest = pop_option(argv, "--wandb")
    if mode is not None and mode not in MODES:
        raise PebenchError(f"--wandb takes one of {', '.join(MODES)}, got {mode!r}")
    return mode or "disabled", rest


def pop_threads(argv: Sequence[str]) -> list[str]:
    """``--threads N`` taken out of a train/compare command line into ``$PEBENCH_NUM_THREADS``
    (which the run, and the workers it may start, honour)."""
    value, rest = pop_option(argv, "--threads")
    if value is not None:
        if not value.isdigit() or int(value) < 1:
            raise PebenchError(f"--threads takes a whole number of at least 1, got {value!r}")
        os.environ["PEBENCH_NUM_THREADS"] = value
    return rest


def simple_parser(command: str, description: str) -> Any:
    from pebench.benchmark.run.parser import PebenchParser

    return PebenchParser(prog=f"pebench {command}", description=description, exit_on_error=False)


def parse_simple(parser: Any, argv: Sequence[str]) -> Any:
    """Parse a command's own options (no plug-in classes), errors as one line."""
    from jsonargparse import ArgumentError

    from pebench.benchmark.run.parser import one_line, undashed

    try:
        return parser.parse_args(undashed([ALIASES.get(a, a) for a in argv]))
    except ArgumentError as exc:
        raise one_line(exc, parser.prog) from None


def wandb_option(parser: Any) -> None:
    parser.add_argument(
        "--wandb",
        type=str | None,
        default=None,
        help="online|offline|disabled (default: online with an API key, else offline)",
    )


def option_value(text: str) -> Any:
    """A command-line value as YAML reads it (``0.5`` a float, ``true`` a bool)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text

