"""The exception every user-facing failure derives from; the CLI turns it into one line."""


class TinycnnError(Exception):
    """A mistake in what the user asked for or gave us; the message carries the fix."""


class TinycnnWarning(UserWarning):
    """Something the user should know that does not stop the command (a fallback taken)."""
