"""Helpers of the audit tests: build hand-made journeys in bulk, run the audit, read its answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa

from buyerjourney.analysis import run_audit
from buyerjourney.config import JourneyConfig, parse_config
from buyerjourney.events import SPEND_SCHEMA
from buyerjourney.store import DuckDBStore
from conftest import T0, journeys_for, load_events


def many(prefix: str, n: int, steps: list[tuple]) -> dict[str, list[tuple]]:
    """``n`` entities ``prefix0..prefix{n-1}`` with the same journey."""
    return {f"{prefix}{i}": list(steps) for i in range(n)}


def day(n: float) -> datetime:
    """T0 + ``n`` days."""
    return T0 + timedelta(days=n)


def config(**overrides: Any) -> JourneyConfig:
    """The default config with some keys replaced (nested dicts for sections)."""
    return parse_config(overrides)


def audit(store: DuckDBStore, journeys: dict[str, list[tuple]], *, as_of: float, months: int = 12,
          spend: list[tuple[date, str, float]] | None = None, journey: JourneyConfig | None = None,
          extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Load ``journeys`` (and ``extra`` raw events, ``spend`` rows), audit as of T0 + ``as_of`` days."""
    load_events(store, journeys_for(journeys) + list(extra or []))
    if spend:
        store.append_spend(pa.table({"date": [d for d, _, _ in spend], "source": [s for _, s, _ in spend],
                                     "campaign": [None] * len(spend), "amount": [a for _, _, a in spend],
                                     "currency": ["USD"] * len(spend)}, schema=SPEND_SCHEMA))
    return run_audit(store, journey or JourneyConfig(), period_months=months, as_of=day(as_of)).to_dict()


def question(doc: dict[str, Any], qid: str) -> dict[str, Any]:
    """The question ``qid`` of an audit document."""
    return next(q for stage in doc["stages"] for q in stage["questions"] if q["id"] == qid)


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Rows keyed by one of their columns."""
    return {row[key]: row for row in rows}
