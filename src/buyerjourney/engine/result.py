"""The per-entity funnel result and what is read off it without another pass over the events.

Counting rules (DESIGN section 3): excluded entities are left out of every count; a required step
counts the entities whose level reaches it; an optional step the entities one of whose best chains
goes through it. Conversion "from previous" divides by the nearest earlier required step.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from buyerjourney.engine import readoffs
from buyerjourney.engine.driver import KernelOutput, Source
from buyerjourney.engine.query import FunnelQuery
from buyerjourney.errors import QueryError

US = 1_000_000


@dataclass(frozen=True)
class StepSummary:
    """One row of the funnel: a step and how many entities reached it."""

    step: int
    name: str
    count: int
    conversion_from_previous: float | None
    conversion_from_first: float | None
    median_seconds_from_previous: float | None
    mean_seconds_from_previous: float | None
    p90_seconds_from_previous: float | None
    optional: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


class FunnelResult:
    """Per-entity levels, chosen chains, exclusion flags and repeat conversions, plus the read-offs."""

    def __init__(self, query: FunnelQuery, out: KernelOutput, source: Source) -> None:
        self.query = query
        self.out = out
        self.source = source

    # -- the per-entity facts ----------------------------------------------------------------------
    @property
    def entity_count(self) -> int:
        """Number of entities (every entity present, whatever its level)."""
        return len(self.out.level)

    @cached_property
    def entity_ids(self) -> list[str]:
        """Entity id of every dense entity index."""
        return self.source.entity_ids(np.arange(self.entity_count))

    @property
    def counted(self) -> np.ndarray:
        """Boolean mask of the entities that count (not excluded)."""
        return ~self.out.excluded

    @property
    def levels(self) -> dict[str, int]:
        """entity_id -> level (excluded entities keep the level computed without exclusions)."""
        return dict(zip(self.entity_ids, self.out.level.tolist(), strict=True))

    @property
    def excluded(self) -> list[str]:
        """Sorted ids of the entities dropped by an exclusion."""
        return sorted(self.source.entity_ids(np.flatnonzero(self.out.excluded)))

    @property
    def conversions(self) -> dict[str, int]:
        """entity_id -> number of completed chains, one after another (re-entry)."""
        return dict(zip(self.entity_ids, self.out.conversions.tolist(), strict=True))

    def reached_mask(self, step: int) -> np.ndarray:
        """Entities counted at ``step`` (1-based), as a boolean mask."""
        self._check_step(step)
        if self.query.steps[step - 1].optional:
            on = ((self.out.optional >> np.uint32(step - 1)) & np.uint32(1)).astype(bool)
        else:
            on = self.out.level >= step
        return on & self.counted

    def level_counts(self) -> list[int]:
        """Entities at each level 0..n (all of them, excluded ones at their level)."""
        return np.bincount(self.out.level, minlength=self.query.n + 1).tolist()

    @cached_property
    def counts(self) -> list[int]:
        """Entities counted at each step."""
        return [int(self.reached_mask(k).sum()) for k in range(1, self.query.n + 1)]

    def _check_step(self, step: int) -> None:
        if not 1 <= step <= self.query.n:
            raise QueryError(f"step {step} is not a step of this funnel (1..{self.query.n})", field="step")

    def previous_required(self, step: int) -> int | None:
        """The nearest required step before ``step`` (None for step 1)."""
        for k in range(step - 1, 0, -1):
            if not self.query.steps[k - 1].optional:
                return k
        return None

    # -- headline ----------------------------------------------------------------------------------
    @cached_property
    def steps(self) -> list[StepSummary]:
        """The funnel, step by step."""
        counts = self.counts
        rows = []
        for k, step in enumerate(self.query.steps, start=1):
            prev = self.previous_required(k)
            stats = readoffs.duration_stats(self.durations(k))
            rows.append(StepSummary(
                step=k, name=step.label, count=counts[k - 1],
                conversion_from_previous=_ratio(counts[k - 1], counts[prev - 1]) if prev else None,
                conversion_from_first=_ratio(counts[k - 1], counts[0]),
                median_seconds_from_previous=stats.median if k > 1 else None,
                mean_seconds_from_previous=stats.mean if k > 1 else None,
                p90_seconds_from_previous=stats.p90 if k > 1 else None, optional=step.optional))
        return rows

    @property
    def conversion_rate(self) -> float | None:
        """Entities counted at the last step over those at the first."""
        return _ratio(self.counts[-1], self.counts[0])

    def durations(self, step: int, from_step: int | None = None) -> np.ndarray:
        """Seconds between the chosen chain's ``from_step`` event (default: the previous filled step)
        and its ``step`` event, for the counted entities whose chain holds both."""
        self._check_step(step)
        here = self.out.step_ts(step - 1)
        if from_step is None:
            before = np.full(len(here), readoffs.MISSING, np.int64)
            for k in range(step - 1, 0, -1):  # the previous *filled* step, row by row
                col = self.out.step_ts(k - 1)
                before = np.where((before == readoffs.MISSING) & (col != readoffs.MISSING), col, before)
        else:
            self._check_step(from_step)
            before = self.out.step_ts(from_step - 1)
        ok = self.counted & (here != readoffs.MISSING) & (before != readoffs.MISSING)
        return (here[ok] - before[ok]) / US

    def time_to_convert(self, step: int | None = None, from_step: int | None = None,
                        bins: int | None = None) -> readoffs.DurationStats:
        """Mean, median, p90 and a histogram of the time to reach ``step`` (default: the last step)
        from ``from_step`` (default: step 1)."""
        step = self.query.n if step is None else step
        start = 1 if from_step is None else from_step
        if step == start:
            raise QueryError("time to convert needs two different steps", field="step")
        return readoffs.duration_stats(self.durations(step, start), histogram=True, max_bins=bins or 12)

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        """``{"steps": [...], ...}``: the headline (and any further read-offs passed in ``extra``)."""
        doc: dict[str, Any] = {
            "query": self.query.to_dict(),
            "entities": self.entity_count,
            "excluded": int(self.out.excluded.sum()),
            "conversion_rate": self.conversion_rate,
            "steps": [s.to_dict() for s in self.steps],
        }
        if self.query.n > 1:
            doc["time_to_convert"] = self.time_to_convert().to_dict()
        doc.update(extra)
        return doc

    # -- drill-down ----------------------------------------------------------------------------------
    def reached(self, step: int, limit: int | None = None, offset: int = 0) -> list[str]:
        """Ids of the entities counted at ``step``, in id order, paged."""
        return self._page(np.flatnonzero(self.reached_mask(step)), limit, offset)

    def dropped_mask(self, step: int) -> np.ndarray:
        """Entities that reached the required step before ``step`` (its furthest required step), but not ``step``."""
        self._check_step(step)
        prev = self.previous_required(step)
        if prev is None:
            raise QueryError("nobody drops at step 1: use --reached-at 1 or a later step", field="step")
        level = self.out.level
        return self.counted & (level >= prev) & (level < step) & ~self.reached_mask(step)

    def dropped(self, step: int, limit: int | None = None, offset: int = 0) -> list[str]:
        """Ids of the entities that dropped at ``step`` (reached the previous required step, not this one)."""
        return self._page(np.flatnonzero(self.dropped_mask(step)), limit, offset)

    def _page(self, index: np.ndarray, limit: int | None, offset: int) -> list[str]:
        if offset < 0 or (limit is not None and limit < 0):
            raise QueryError("limit and offset cannot be negative", field="limit")
        page = index[offset:] if limit is None else index[offset:offset + limit]
        return self.source.entity_ids(page)

    def entities_csv(self, ids: list[str]) -> str:
        """A one-column CSV (``entity_id``) of ``ids``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["entity_id"])
        writer.writerows([i] for i in ids)
        return buffer.getvalue()

    def chain_events(self, index: np.ndarray | None = None) -> list[list[str | None]]:
        """The chosen chain's event ids per entity (``None`` for steps not filled)."""
        rows = self.out.chains(index)[1]
        found = self.source.events(rows.ravel())
        return [[found[r][0] if r >= 0 and r in found else None for r in row] for row in rows.tolist()]

    @property
    def table(self) -> pa.Table:
        """The per-entity result: entity_id, level, excluded, conversions, chosen chain times and event ids."""
        n = self.query.n
        ts = self.out.chains()[0]
        valid = ts != readoffs.MISSING
        flat_ts = pa.array(np.where(valid, ts, 0).ravel(), pa.int64(), mask=~valid.ravel()).cast(
            pa.timestamp("us", tz="UTC"))
        offsets = pa.array(np.arange(0, (self.entity_count + 1) * n, n, dtype=np.int32))
        ids = [e for row in self.chain_events() for e in row]
        return pa.table({
            "entity_id": pa.array(self.entity_ids, pa.string()),
            "level": pa.array(self.out.level, pa.int8()),
            "excluded": pa.array(self.out.excluded, pa.bool_()),
            "conversions": pa.array(self.out.conversions, pa.int32()),
            "step_ts": pa.ListArray.from_arrays(offsets, flat_ts),
            "step_event_id": pa.ListArray.from_arrays(offsets, pa.array(ids, pa.string())),
        })

    # -- analyses read off the chains ------------------------------------------------------------
    def breakdown(self, prop: str, attribution: str = "first", top: int = 10) -> list[readoffs.BreakdownRow]:
        """Counts per step for each value of ``prop`` (an event property of the attributed step's event,
        or ``entity:NAME`` for an entity trait): the ``top`` values by entities at step 1, then "(other)"."""
        return readoffs.breakdown(self, prop, attribution, top)

    def trends(self, period: str = "week", as_of: Any = None) -> list[readoffs.TrendRow]:
        """Conversion per entry period (day, week or month of the chain's step-1 event); periods whose
        window has not closed by ``as_of`` (default: the latest event) are flagged incomplete."""
        return readoffs.trends(self, period, as_of)

    def revenue(self, prop: str = "revenue") -> list[readoffs.RevenueRow]:
        """Sum and average of a numeric property on the events that filled each step."""
        return readoffs.revenue(self, prop)


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else a / b


def summary_rows(result: FunnelResult) -> list[Mapping[str, Any]]:
    """The headline as flat rows (for tables and CSV)."""
    return [s.to_dict() for s in result.steps]
