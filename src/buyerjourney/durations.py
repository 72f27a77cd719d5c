"""Durations as written by users: digits plus one unit (``90m``, ``14d``)."""

from __future__ import annotations

import re

from buyerjourney.errors import QueryError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str | int, *, field: str = "window") -> int:
    """Return the number of seconds in ``text`` (``"0s"``, ``"90m"``, ``"14d"``); ints are seconds."""
    if isinstance(text, bool):
        raise QueryError(f"{field}: expected a duration such as '14d', got {text!r}", field=field)
    if isinstance(text, int):
        if text < 0:
            raise QueryError(f"{field}: a duration cannot be negative ({text})", field=field)
        return text
    if not isinstance(text, str):
        raise QueryError(f"{field}: expected a duration such as '14d', got {text!r}", field=field)
    match = _PATTERN.fullmatch(text.strip())
    if not match:
        raise QueryError(
            f"{field}: {text!r} is not a duration: use digits and one unit of s, m, h, d, w (e.g. '14d')",
            field=field,
        )
    return int(match.group(1)) * _UNITS[match.group(2)]
