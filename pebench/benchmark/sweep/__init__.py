"""Sweeps: Optuna studies over tasks × encodings on one machine or many, and the leaderboard.

``config`` (sweep files → typed objects), ``studies`` (one study per task and encoding),
``storage`` (journal file or PostgreSQL), ``worker`` (claims and runs trials), ``pruning``,
``tracking`` (W&B), ``progress`` (terminal), ``run`` (``pebench sweep``), ``leaderboard``
with ``significance`` (intervals and tests) and ``plots``.
"""
