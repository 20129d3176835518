"""Training, evaluation and the command line: pairs any encoding with any task."""
