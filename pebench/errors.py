"""The one exception type for mistakes a user can make; the CLI prints it as one line."""


class PebenchError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""
