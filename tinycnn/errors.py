"""The exception every user-facing failure derives from; the CLI turns it into one line."""


class TinycnnError(Exception):
    """A mistake in what the user asked for or gave us; the message carries the fix."""


class RequestError(TinycnnError):
    """Options that do not go together; exit status 2, as for any other usage mistake."""

    exit_code = 2


class TinycnnWarning(UserWarning):
    """Something the user should know that does not stop the command (a fallback taken)."""
