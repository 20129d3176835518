"""``python -m pebench``: the ``pebench`` command, for checkouts run via PYTHONPATH."""

import sys

from pebench.benchmark.cli import main

sys.exit(main())
