"""Timestamps: ISO-8601 with a zone, epoch seconds or milliseconds; naive ones only with ``--timezone``.

Parsing is vectorised SQL (DuckDB, ICU time zones) over whole batches. Each source column becomes two
expressions: ``kind`` classifies a value (one pass of regular expressions) and ``ts`` turns it into an
instant (``TIMESTAMPTZ``) using ``kind``. A value is ``missing``, ``invalid``, ``naive`` (a wall-clock time
with no zone while no time zone was given: the whole import is refused with a :class:`TimezoneError`),
``range`` (outside 1900..2200, usually a unit mistake) or fine.

Numbers are epoch seconds, or milliseconds when ``abs(value) >= 1e11`` (the rule of
:func:`buyerjourney.events.to_epoch_us`).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import pyarrow as pa

from buyerjourney.errors import ImportFormatError, TimezoneError

#: Kinds that are not a usable instant; the import turns them into reasons (or, for naive, an error).
MISSING, INVALID, NAIVE, RANGE = "missing", "invalid", "naive", "range"

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
_ZONE = r"\s*([Zz]|UTC|GMT|[+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z]+(/[A-Za-z0-9_+-]+)+)"
ZONED_RE = f"{_DATE}{_TIME}{_ZONE}"
NAIVE_RE = f"{_DATE}({_TIME})?"
INT_RE = r"[+-]?[0-9]{1,30}"
FRAC_RE = r"[+-]?([0-9]{1,30}\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?"
#: Accepted instants, in epoch microseconds: [1900-01-01, 2200-01-01).
MIN_US, MAX_US = -2_208_988_800_000_000, 7_258_118_400_000_000


def check_timezone(name: str | None) -> str | None:
    """Return ``name`` when it is an IANA time zone (``Europe/Paris``, ``UTC``); ``None`` stays ``None``."""
    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TimezoneError(f"unknown time zone {name!r}: give an IANA name such as Europe/Paris or UTC",
                            field="timezone") from None
    return name


def naive_error(file: str, column: str, line: int | None) -> TimezoneError:
    """The error for naive timestamps met in ``file``/``column`` while no ``--timezone`` was given."""
    where = f" (line {line})" if line is not None else ""
    return TimezoneError(f"{file}: column {column!r} has timestamps without a time zone{where}: "
                         f"give --timezone (an IANA name such as Europe/Paris)", field="timezone")


@dataclass(frozen=True)
class TsExpr:
    """SQL for one timestamp column: ``kind`` (evaluated first, as column ``ts_kind``) and ``ts`` (uses it)."""

    kind: str
    ts: str


def _epoch_us(number: str) -> str:
    """Epoch microseconds (HUGEINT) from a numeric SQL expression: seconds, or ms when abs >= 1e11."""
    return (f"(CASE WHEN abs({number}) >= 1e11 THEN try_cast(round({number} * 1000) AS HUGEINT) "
            f"ELSE try_cast(round({number} * 1000000) AS HUGEINT) END)")


def _from_us(us: str) -> str:
    return f"(CASE WHEN {us} >= {MIN_US} AND {us} < {MAX_US} THEN make_timestamp(({us})::BIGINT)::TIMESTAMPTZ END)"


def _zoned(ts: str, tz: str | None) -> str:
    """A naive TIMESTAMP expression read in the zone of the SQL placeholder ``tz`` (or NULL without one)."""
    return f"timezone({tz}, {ts})" if tz else "NULL::TIMESTAMPTZ"


def ts_expression(column: str, arrow_type: pa.DataType, *, tz: str | None, file: str, name: str) -> TsExpr:
    """Kind and instant SQL for source column ``column`` of ``arrow_type`` (``name`` is its name in ``file``).

    ``tz`` is the SQL placeholder holding the ``--timezone`` name, or ``None`` when none was given.
    """
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    c = column
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.tz is not None:
            return TsExpr(f"CASE WHEN {c} IS NULL THEN '{MISSING}' END", f"{c}::TIMESTAMPTZ")
        return TsExpr(f"CASE WHEN {c} IS NULL THEN '{MISSING}' ELSE '{NAIVE}' END", _zoned(f"{c}::TIMESTAMP", tz))
    if pa.types.is_date(arrow_type):
        return TsExpr(f"CASE WHEN {c} IS NULL THEN '{MISSING}' ELSE '{NAIVE}' END", _zoned(f"{c}::TIMESTAMP", tz))
    if pa.types.is_integer(arrow_type):
        return TsExpr(f"CASE WHEN {c} IS NULL THEN '{MISSING}' ELSE 'int' END", _from_us(_epoch_us(f"{c}::HUGEINT")))
    if pa.types.is_floating(arrow_type):
        kind = f"CASE WHEN {c} IS NULL THEN '{MISSING}' WHEN NOT isfinite({c}) THEN '{INVALID}' ELSE 'frac' END"
        return TsExpr(kind, f"CASE WHEN isfinite({c}) THEN {_from_us(_epoch_us(f'{c}::DOUBLE'))} END")
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        text = f"nullif(trim({c}), '')"
        kind = (f"CASE WHEN {text} IS NULL THEN '{MISSING}' "
                f"WHEN regexp_full_match({text}, '{INT_RE}') THEN 'int' "
                f"WHEN regexp_full_match({text}, '{FRAC_RE}') THEN 'frac' "
                f"WHEN regexp_full_match({text}, '{ZONED_RE}') THEN 'zoned' "
                f"WHEN regexp_full_match({text}, '{NAIVE_RE}') THEN '{NAIVE}' "
                f"ELSE '{INVALID}' END")
        ts = (f"CASE ts_kind "
              f"WHEN 'int' THEN {_from_us(_epoch_us(f'try_cast({text} AS HUGEINT)'))} "
              f"WHEN 'frac' THEN {_from_us(_epoch_us(f'try_cast({text} AS DOUBLE)'))} "
              f"WHEN 'zoned' THEN try_cast(regexp_replace(regexp_replace({text}, '\\s*[zZ]$', 'Z'), "
              f"'\\s+([+-][0-9])', '\\1') AS TIMESTAMPTZ) "
              f"WHEN '{NAIVE}' THEN {_zoned(f'try_cast({text} AS TIMESTAMP)', tz)} END")
        return TsExpr(kind, ts)
    raise ImportFormatError(f"{file}: column {name!r} has type {arrow_type}, which is not a timestamp "
                            f"(ISO-8601 text, epoch number, date or timestamp)", field=name)


#: The reason given to naive rows when no time zone was given; its presence refuses the import.
NAIVE_REASON = "timestamp without a time zone (give --timezone)"


def ts_reason(value: str, label: str, *, tz: str | None) -> str:
    """SQL for why a row's timestamp is unusable, or ``NULL`` when it is fine.

    Reads the columns ``ts_kind`` and ``ts``; ``value`` is the source column (for the message) and ``label``
    the SQL placeholder holding the column's name in the file.
    """
    shown = f"to_json(left(CAST({value} AS VARCHAR), 100))"
    naive = f"WHEN ts_kind = '{NAIVE}' AND ts IS NULL THEN '{NAIVE_REASON}' " if not tz else ""
    out_of_range = f"{label} || ': ' || {shown} || ' is out of range (years 1900 to 2199)'"
    return (f"CASE WHEN ts_kind = '{MISSING}' THEN {label} || ' is missing' "
            f"{naive}"
            f"WHEN ts_kind IN ('int', 'frac') AND ts IS NULL THEN {out_of_range} "
            f"WHEN ts IS NULL THEN {label} || ': ' || {shown} || "
            f"' is not a timestamp (ISO-8601 with a zone, or epoch seconds or milliseconds)' "
            f"WHEN epoch_us(ts) < {MIN_US} OR epoch_us(ts) >= {MAX_US} THEN {out_of_range} END")
