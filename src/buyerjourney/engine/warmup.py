"""Compile every kernel variant once, so no command stalls on Numba the first time a mode is used.

Run at install time (``make`` does): ``python -m buyerjourney.engine.warmup``. The compiled code is cached
on disk beside the kernels, so later processes load it instead of compiling.
"""

from __future__ import annotations

import time

from buyerjourney.engine.api import funnel
from buyerjourney.events import events_table_from_records
from buyerjourney.store import DuckDBStore

_EVENTS = [
    {"entity_id": entity, "event": name, "ts": f"2024-01-0{day}T00:00:00Z", "event_id": f"{entity}{index}",
     "properties": {"plan": "pro", "revenue": 10}}
    for entity in ("a", "b")
    for index, (name, day) in enumerate([("visit", 1), ("signup", 2), ("x", 3), ("buy", 4), ("visit", 5)])
]

#: One funnel per kernel path: plain ordered, strict, per-step within, optional, exclusion, unordered, filters.
_FUNNELS: list[dict[str, object]] = [
    {"steps": ["visit", "signup", "buy"], "window": "30d"},
    {"steps": ["visit", "signup", "buy"], "window": "30d", "order": "strict"},
    {"steps": ["visit", {"event": "signup", "within": "1d"}, "buy"], "window": "30d"},
    {"steps": ["visit", {"event": "signup", "optional": True}, "buy"], "window": "30d"},
    {"steps": ["visit", "signup", "buy"], "window": "30d",
     "exclusions": [{"event": "x", "from_step": 1, "to_step": 3}]},
    {"steps": ["visit", "signup", "buy"], "window": "30d", "order": "unordered"},
    {"steps": ["visit", {"event": "buy", "where": {"plan": "pro"}}], "window": "30d"},
]


def warm_up() -> float:
    """Run each kernel path on a tiny journey; returns the seconds it took."""
    started = time.perf_counter()
    for spec in _FUNNELS:
        result = funnel(_EVENTS, **spec)  # type: ignore[arg-type]
        result.to_dict()
    with DuckDBStore.open(":memory:") as store:  # the store driver's own compiled helpers
        store.append_events(events_table_from_records([*_EVENTS, {**_EVENTS[0], "event_id": "a9"}]))
        store.refresh()
        funnel(store, **_FUNNELS[0]).to_dict()  # type: ignore[arg-type]
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"funnel kernels compiled and cached in {warm_up():.1f} s")
