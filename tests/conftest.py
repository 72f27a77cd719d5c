"""Shared fixtures: a declarative journey builder and stores on every backend."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from buyerjourney.events import events_table_from_records
from buyerjourney.store import DuckDBStore

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
_OFFSET = re.compile(r"(-?\d+(?:\.\d+)?)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def offset(text: str) -> timedelta:
    """``"2d"`` -> 2 days after T0; parts add up (``"1d2h"``)."""
    parts = _OFFSET.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"bad offset {text!r}")
    return timedelta(seconds=sum(float(n) * _UNIT[u] for n, u in parts))


def journeys_for(journeys: Mapping[str, Sequence[tuple]], start: datetime = T0) -> list[dict[str, Any]]:
    """``{"ann": [("visit", "0d"), ("signup", "2d", {"plan": "pro"})]}`` -> event dicts of the contract."""
    events = []
    for entity, steps in journeys.items():
        for index, step in enumerate(steps):
            name, when, *rest = step
            props = rest[0] if rest else None
            event = {"entity_id": entity, "event": name, "ts": (start + offset(when)).isoformat(),
                     "event_id": f"{entity}-{index}"}
            if props is not None:
                event["properties"] = props
            events.append(event)
    return events


def load_events(store: DuckDBStore, events: list[dict[str, Any]]) -> DuckDBStore:
    """Append event dicts to ``store`` and refresh it."""
    store.append_events(events_table_from_records(events))
    store.refresh()
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    """An empty store in a real DuckDB file."""
    opened = DuckDBStore.open(tmp_path / "test.duckdb")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def shared_dir() -> Path:
    """The shared/ folder beside the repository (data sets, conformance cases, bench harness)."""
    return SHARED
