"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class RetlabError(Exception):
    """An error caused by the user's input; printed without a traceback."""


class ConfigError(RetlabError):
    """A config value is wrong. Names the field and how to fix it."""

    def __init__(self, field: str, problem: str, fix: str = ""):
        self.field, self.problem, self.fix = field, problem, fix
        msg = f"{field}: {problem}" if field else problem
        super().__init__(f"{msg} ({fix})" if fix else msg)


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty), for one-line errors."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
