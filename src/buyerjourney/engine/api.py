"""``funnel(...)``: the one entry point, over in-memory events or a store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from buyerjourney.engine.driver_memory import run_memory
from buyerjourney.engine.driver_store import run_store
from buyerjourney.engine.query import Exclusion, FunnelQuery, Step
from buyerjourney.engine.result import FunnelResult
from buyerjourney.store import DuckDBStore


def funnel(events: Any, steps: Sequence[str | Mapping[str, Any] | Step] | None = None, window: str | int = "14d",
           order: str = "ordered", exclusions: Sequence[Mapping[str, Any] | Exclusion] | None = None, *,
           query: FunnelQuery | None = None, batch_size: int = 1 << 21) -> FunnelResult:
    """Run a funnel (DESIGN section 3) over ``events`` and return the per-entity result.

    ``events``: a :class:`~buyerjourney.store.DuckDBStore` (its clustered ``events`` table), or in-memory
    events of the data contract: a list of dicts, a pandas DataFrame or an Arrow table.
    ``steps``: event names or ``{"event", "where"?, "within"?, "optional"?}`` mappings (1 to 32);
    ``window``: a duration such as ``"14d"``; ``order``: ``ordered``, ``strict`` or ``unordered``;
    ``exclusions``: ``{"event", "from_step", "to_step", "where"?}`` mappings (1-based steps).
    A funnel that breaks a rule raises :class:`~buyerjourney.errors.QueryError` (a ``ValueError``).

    Example::

        result = funnel(events, steps=["visit", {"event": "signup", "within": "1d"}, "purchase"], window="30d")
        result.counts, result.to_dict()["steps"], result.dropped(2, limit=20)
    """
    if query is None:
        query = FunnelQuery.build(steps if steps is not None else [], window, order, exclusions)
    if isinstance(events, DuckDBStore):
        out, source = run_store(events, query, batch_size=batch_size)
    else:
        out, source = run_memory(events, query)
    return FunnelResult(query, out, source)
