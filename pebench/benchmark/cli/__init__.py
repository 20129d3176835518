"""The ``pebench`` command line: a table of commands, each a function of its own module.

``train`` and ``compare`` (:mod:`.run`), ``sweep``, ``worker`` and ``compact`` (:mod:`.sweep`),
``leaderboard`` and ``compare-reference`` (:mod:`.leaderboard`), ``rank``, ``bench`` and
``list``. Run configurations are parsed and validated by jsonargparse from typed signatures
(:mod:`pebench.benchmark.run.parser`); :mod:`.arguments` adds short flags, registered names
and the one-line errors every command shares.

Only light modules are imported at the top of each command module: torch, Lightning and the
registries load inside the commands that need them, so `pebench --help`, `pebench list` and
argument errors answer without seconds of start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.console import Console

from pebench.benchmark.cli.bench import cmd_bench
from pebench.benchmark.cli.examples import cmd_examples
from pebench.benchmark.cli.leaderboard import cmd_compare_reference, cmd_leaderboard
from pebench.benchmark.cli.listing import cmd_list
from pebench.benchmark.cli.rank import cmd_rank
from pebench.benchmark.cli.run import cmd_compare, cmd_train
from pebench.benchmark.cli.sweep import cmd_compact, cmd_sweep, cmd_worker
from pebench.errors import PebenchError

COMMANDS = {
    "train": cmd_train,
    "compare": cmd_compare,
    "sweep": cmd_sweep,
    "worker": cmd_worker,
    "compact": cmd_compact,
    "leaderboard": cmd_leaderboard,
    "rank": cmd_rank,
    "compare-reference": cmd_compare_reference,
    "bench": cmd_bench,
    "examples": cmd_examples,
    "list": cmd_list,
}
USAGE = (
    "usage: pebench {train,compare,sweep,worker,compact,leaderboard,rank,compare-reference,bench,"
    "examples,list} [--help] [--debug] ...\n"
    "  train        train one encoding on one task (pebench train --task copy --encoding rope)\n"
    "  compare      train several encodings with the same settings and print a comparison\n"
    "  sweep        Optuna sweep over tasks x encodings (pebench sweep configs/sweeps/quick.yaml)\n"
    "  worker       join a running sweep from another process or machine\n"
    "  compact      shrink a stopped sweep's journal before committing it\n"
    "  leaderboard  write a sweep's leaderboard (md, csv, html, png)\n"
    "  rank         your encoding against the reference leaderboard (pebench rank my.Enc)\n"
    "  compare-reference  compare a sweep with a study's released figures\n"
    "  bench        time each encoding's training step and inference beside torch's Transformer\n"
    "  examples     what a task's data looks like (pebench examples scan --count 3)\n"
    "  list         list the available encodings and tasks"
)


#: what to do after Ctrl-C (or SIGTERM), per command
INTERRUPT_HINTS = {
    "sweep": "; re-run the same command to resume (interrupted trials run again)",
    "worker": "; re-run the same command to rejoin (interrupted trials run again)",
    "rank": "; re-run the same command to resume (interrupted trials run again)",
    "train": "; continue with the same command plus --resume",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pebench`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    console = Console()
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"pebench: error: unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        runs = command(args[1:], console)
    except PebenchError as exc:
        if debug:
            raise
        from pebench.benchmark.run.parser import dashed

        print(f"pebench: error: {dashed(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # a single run knows whether it saved a checkpoint; a sweep always resumes
        own = getattr(exc, "hint", None) if args[0] == "train" else None
        hint = own or INTERRUPT_HINTS.get(args[0], "")
        print(f"pebench: interrupted{hint}", file=sys.stderr)
        return 130
    from pebench.benchmark.run.processes import is_launch_zero

    if runs and is_launch_zero():  # the processes DDP started print nothing
        from pebench.benchmark.run.report import print_results

        print_results(runs, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
