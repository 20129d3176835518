"""``python -m pebench.benchmark.cli``: the ``pebench`` command (as ``python -m pebench``)."""

import sys

from pebench.benchmark.cli import main

sys.exit(main())
