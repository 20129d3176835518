"""The leaderboard of finished sweeps: collecting their runs, the table and its statistics,
rendering (md, csv, html, json, terminal), the budget comparison, plots, publishing, and the
comparison with a paper's released figures (``released``)."""
