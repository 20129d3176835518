"""Sweeps: Optuna studies over tasks × encodings on one machine or many.

``config`` (sweep files → typed objects), ``studies`` (one study per task and encoding),
``storage`` (journal file or PostgreSQL), ``launch`` (``pebench sweep``: workers on this
machine), ``worker`` (claims and runs trials), ``pruning``, ``protocol`` and ``progress``
(terminal). The leaderboard of a sweep is :mod:`pebench.benchmark.leaderboard`'s.
"""
