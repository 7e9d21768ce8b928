"""Names and comments that are valid C whatever the model or its layers are called."""

from __future__ import annotations

import re

C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline "
    "int long register restrict return short signed sizeof static struct switch typedef union unsigned "
    "void volatile while _Bool _Complex _Imaginary main".split()
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def c_identifier(name: str, max_length: int = 40) -> str:
    """A valid, non-reserved C identifier derived from ``name`` (letters, digits, underscores)."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")[:max_length].rstrip("_") or "model"
    if cleaned[0].isdigit():
        cleaned = f"m_{cleaned}"
    if cleaned.startswith("__") or cleaned[0] == "_" and cleaned[1:2].isupper():
        cleaned = f"m{cleaned}"  # reserved for the implementation
    if cleaned in C_KEYWORDS:
        cleaned = f"{cleaned}_"
    assert IDENTIFIER.fullmatch(cleaned), cleaned
    return cleaned


def c_comment(text: str) -> str:
    """Text that can sit inside a /* */ comment on one line."""
    return re.sub(r"[^\x20-\x7e]", "?", text).replace("*/", "* /").replace("/*", "/ *")


def c_string(text: str) -> str:
    """A C string literal body: printable ASCII with quotes and backslashes escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return re.sub(r"[^\x20-\x7e]", "?", escaped)
