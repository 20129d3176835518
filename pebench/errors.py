"""Exceptions for what a user can cause or must know about; the CLI prints them as one line."""


class PebenchError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped a run; ``hint`` says how to continue (shown by the CLI)."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


class DivergedError(PebenchError):
    """Training produced a non-finite loss; a sweep fails that trial and goes on."""


def yaml_problem(source: str, exc: Exception) -> PebenchError:
    """A YAML syntax error as one line naming the file and line (``file:LINE: ...``)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    return PebenchError(f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})")


def did_you_mean(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or nothing."""
    import difflib

    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
