"""One training run: its settings and parser, its specification, the LightningModule,
``train``, its output directory and record, W&B tracking and the terminal report."""
