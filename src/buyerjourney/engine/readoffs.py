"""Analyses read off the per-entity chains: time-to-convert statistics and histogram, breakdowns with
attribution, trends per entry period (incomplete periods flagged) and revenue per step."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from buyerjourney.engine.kernel_dp import INF
from buyerjourney.errors import QueryError

if TYPE_CHECKING:
    from buyerjourney.engine.result import FunnelResult

MISSING = -int(INF)  # chain time of a step that is not filled
US = 1_000_000
#: Histogram edges are taken from these "round" durations (seconds).
NICE = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
        259200, 604800, 1209600, 2592000, 5184000, 7776000, 15552000, 31536000, 63072000, 157680000)
_UNITS = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))
OTHER = "(other)"
NONE = "(none)"


def format_duration(seconds: float) -> str:
    """``90`` -> ``1m30s``; ``86400`` -> ``1d``; fractions of a second are rounded."""
    left = round(seconds)
    if left == 0:
        return "0s"
    parts = []
    for size, unit in _UNITS:
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts[:2])


@dataclass(frozen=True)
class Bin:
    """One histogram bar: durations in [start, end) seconds (the last bin includes its end)."""

    start_seconds: float
    end_seconds: float
    label: str
    count: int


@dataclass(frozen=True)
class DurationStats:
    """Summary of a set of durations in seconds."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    histogram: list[Bin] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def duration_stats(seconds: np.ndarray, histogram: bool = False, max_bins: int = 12) -> DurationStats:
    """Mean, median, p90 (and optionally a histogram with round edges) of ``seconds``."""
    if not len(seconds):
        return DurationStats(0, None, None, None, [])
    values = np.asarray(seconds, np.float64)
    return DurationStats(len(values), float(values.mean()), float(np.median(values)),
                         float(np.percentile(values, 90)), nice_histogram(values, max_bins) if histogram else [])


def nice_histogram(values: np.ndarray, max_bins: int = 12) -> list[Bin]:
    """Bars with round edges: even widths from :data:`NICE` when the spread is narrow, else growing
    widths (round durations from the smallest to the largest value) so minutes and months both show."""
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        return [Bin(lo, hi, format_duration(lo), len(values))]
    positive = values[values > 0]
    if len(positive) and hi / max(float(positive.min()), 1.0) >= 100:
        inner = [x for x in NICE if lo < x < hi]
        while len(inner) + 1 > max_bins:
            inner = inner[1::2]
        edges = [math.floor(lo), *inner, hi]
    else:
        width = next((x for x in NICE if (hi - lo) / x <= max_bins), NICE[-1])
        start = math.floor(lo / width) * width
        edges = list(np.arange(start, hi + width, width, dtype=np.float64))
        if edges[-1] < hi:
            edges.append(edges[-1] + width)
        if len(edges) < 2:
            edges = [start, start + width]
    counts, _ = np.histogram(values, bins=np.asarray(edges, np.float64))
    return [Bin(float(a), float(b), f"{format_duration(a)}–{format_duration(b)}", int(c))
            for a, b, c in zip(edges[:-1], edges[1:], counts.tolist(), strict=True)]


# -- breakdown -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BreakdownRow:
    """The funnel for one value of the breakdown property."""

    value: str
    counts: list[int]
    conversion_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def attribution_column(result: FunnelResult, attribution: str) -> np.ndarray:
    """Which step's event carries the breakdown value, per entity (0-based; -1 = none)."""
    n = result.query.n
    level = result.out.level.astype(np.int64)
    if attribution == "first":
        return np.where(level >= 1, 0, -1)
    if attribution == "last":  # the level's step: a chain always fills the step it ends at
        return level - 1
    if attribution.startswith("step:"):
        try:
            step = int(attribution.split(":", 1)[1])
        except ValueError:
            step = 0
        if not 1 <= step <= n:
            raise QueryError(f"attribution {attribution!r}: the step must be 1..{n}", field="attribution")
        return np.where(result.out.step_ts(step - 1) != MISSING, step - 1, -1)
    raise QueryError(f"attribution {attribution!r}: use first, last or step:N", field="attribution")


def breakdown_values(result: FunnelResult, prop: str, attribution: str) -> tuple[np.ndarray, list[Any]]:
    """(entity indexes with level >= 1 that count, the breakdown value of each)."""
    if not prop:
        raise QueryError("breakdown: name a property", field="by")
    index = np.flatnonzero(result.counted & (result.out.level >= 1))
    if prop.startswith("entity:"):
        return index, result.source.entity_properties(prop.removeprefix("entity:"), index)
    column = attribution_column(result, attribution)[index]
    rows = np.full(len(index), -1, np.int64)
    for k in np.unique(column[column >= 0]).tolist():
        here = column == k
        rows[here] = result.out.step_row(k)[index[here]]
    found = result.source.events(rows)
    values = []
    for r in rows.tolist():
        props = found[r][1] if r >= 0 and r in found else None
        values.append(props.get(prop) if props else None)
    return index, values


def _display(value: Any) -> str:
    if value is None:
        return NONE
    return value if isinstance(value, str) else json.dumps(value)


def breakdown(result: FunnelResult, prop: str, attribution: str = "first", top: int = 10) -> list[BreakdownRow]:
    """Per value (top ``top`` by entities at step 1, the rest as "(other)"): counts per step."""
    if top < 1:
        raise QueryError("breakdown: top must be at least 1", field="top")
    index, values = breakdown_values(result, prop, attribution)
    keys = [_display(v) for v in values]
    reached = np.stack([result.reached_mask(k)[index] for k in range(1, result.query.n + 1)], axis=1)
    groups: dict[str, list[int]] = {}
    for pos, key in enumerate(keys):
        groups.setdefault(key, []).append(pos)
    ranked = sorted(groups, key=lambda k: (-int(reached[groups[k], 0].sum()), k))
    rows = []
    rest: list[int] = []
    for rank, key in enumerate(ranked):
        if rank < top:
            rows.append(_row(key, reached[groups[key]]))
        else:
            rest.extend(groups[key])
    if rest:
        rows.append(_row(OTHER, reached[rest]))
    return rows


def _row(value: str, reached: np.ndarray) -> BreakdownRow:
    counts = reached.sum(axis=0).astype(int).tolist()
    return BreakdownRow(value, counts, None if counts[0] == 0 else counts[-1] / counts[0])


# -- trends --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrendRow:
    """Entities entering the funnel in one period, and how many of them converted."""

    period: str
    entered: int
    converted: int
    conversion_rate: float | None
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


PERIODS = ("day", "week", "month")


def period_start(us: np.ndarray, period: str) -> np.ndarray:
    """The start (datetime64[D]) of the UTC day, ISO week (Monday) or month holding each time."""
    days = us.astype("datetime64[us]").astype("datetime64[D]")
    if period == "day":
        return days
    if period == "week":
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        return days - weekday.astype("timedelta64[D]")
    return us.astype("datetime64[us]").astype("datetime64[M]").astype("datetime64[D]")


def _next_period(start: np.datetime64, period: str) -> np.datetime64:
    if period == "day":
        return start + np.timedelta64(1, "D")
    if period == "week":
        return start + np.timedelta64(7, "D")
    return (start.astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]")


def _as_of_us(as_of: Any, result: FunnelResult) -> int | None:
    if as_of is None:
        return result.out.latest_us
    if isinstance(as_of, datetime):
        moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        return int(moment.timestamp() * US)
    if isinstance(as_of, date):
        return int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp() * US)
    if isinstance(as_of, str):
        from buyerjourney.events import to_epoch_us

        return to_epoch_us(as_of, field="as_of")
    raise QueryError(f"as_of: expected a date or timestamp, got {as_of!r}", field="as_of")


def trends(result: FunnelResult, period: str = "week", as_of: Any = None) -> list[TrendRow]:
    """Conversion per entry period; a period is complete once its last entrant's window has closed."""
    if period not in PERIODS:
        raise QueryError(f"trend period {period!r}: use day, week or month", field="trend")
    final = result.query.n
    entered = result.counted & (result.out.level >= 1)
    if not entered.any():
        return []
    entry = result.out.step_ts(0)[entered]
    converted = result.reached_mask(final)[entered]
    starts = period_start(entry, period)
    now = _as_of_us(as_of, result)
    window_us = result.query.window * US
    rows = []
    for start in np.unique(starts):
        here = starts == start
        end_us = int(_next_period(start, period).astype("datetime64[us]").astype(np.int64))
        complete = now is not None and end_us + window_us <= now
        e, c = int(here.sum()), int(converted[here].sum())
        rows.append(TrendRow(str(start), e, c, c / e if e else None, complete))
    return rows


# -- revenue -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RevenueRow:
    """A numeric property summed over the events that filled one step."""

    step: int
    name: str
    events: int
    total: float
    average: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def revenue(result: FunnelResult, prop: str = "revenue") -> list[RevenueRow]:
    """Sum / average of ``prop`` (numbers only; other values are ignored) per step's filling events."""
    n = result.query.n
    per_step = [np.where(result.reached_mask(k), result.out.step_row(k - 1), -1) for k in range(1, n + 1)]
    found = result.source.events(np.concatenate(per_step) if per_step else np.zeros(0, np.int64))
    rows = []
    for k, rowids in enumerate(per_step, start=1):
        values = []
        for r in rowids[rowids >= 0].tolist():
            props = found.get(r, ("", None))[1]
            v = props.get(prop) if props else None
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                values.append(float(v))
        total = float(sum(values))
        rows.append(RevenueRow(k, result.query.steps[k - 1].label, len(values), total,
                               total / len(values) if values else None))
    return rows
