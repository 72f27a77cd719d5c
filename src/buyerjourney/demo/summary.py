"""The first summary of a store: events, entities, and how many people reached each of the seven stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from buyerjourney.store import DuckDBStore

#: The demo business's event for each thing the summary counts.
SUMMARY_EVENTS = {
    "visit": "visit",
    "optin": "optin",
    "nurture": "email_sent",
    "sales_contact": "sales_call",
    "purchase": "purchase",
    "wow": "thank_you",
    "refund": "refund",
    "upsell_purchase": "upsell_purchase",
}

_COUNTS = """
SELECT
  count(DISTINCT entity_key) FILTER (WHERE event = $visit) AS visitors,
  count(DISTINCT entity_key) FILTER (WHERE event = $optin) AS leads,
  count(DISTINCT entity_key) FILTER (WHERE event = $nurture) AS nurtured,
  count(DISTINCT entity_key) FILTER (WHERE event = $sales_contact) AS contacted,
  count(DISTINCT entity_key) FILTER (WHERE event = $purchase) AS customers,
  count(DISTINCT entity_key) FILTER (WHERE event = $wow) AS wowed,
  count(DISTINCT entity_key) FILTER (WHERE event = $refund) AS refunded,
  count(DISTINCT entity_key) FILTER (WHERE event = $upsell_purchase) AS upsold,
  count(DISTINCT entity_key) FILTER (WHERE event = $optin AND properties->>'referrer_id' IS NOT NULL) AS referred,
  coalesce(sum(TRY_CAST(properties->>'revenue' AS DOUBLE))
           FILTER (WHERE event IN ($purchase, $upsell_purchase, $refund)), 0) AS revenue
FROM events
"""


@dataclass(frozen=True)
class StageCount:
    """How many reached one step of one stage, and the share of the group it is measured against."""

    stage: int
    name: str
    measure: str
    count: int
    rate: float | None
    rate_of: str | None


@dataclass(frozen=True)
class DemoSummary:
    """Events, entities and per-stage counts of a store."""

    store: str
    events: int
    entities: int
    identified_entities: int
    first_ts: datetime | None
    last_ts: datetime | None
    net_revenue: float
    spend: float
    stages: tuple[StageCount, ...]

    @property
    def title(self) -> str:
        """One line: what the store holds."""
        span = f", {self.first_ts:%Y-%m-%d} to {self.last_ts:%Y-%m-%d}" if self.first_ts and self.last_ts else ""
        return (f"{self.events:,} events, {self.entities:,} entities ({self.identified_entities:,} identified){span}; "
                f"net revenue ${self.net_revenue:,.0f}, spend ${self.spend:,.0f}")

    def rows(self) -> list[dict[str, Any]]:
        """One row per stage count, with the share as text (for tables and CSV)."""
        return [{"#": s.stage, "stage": s.name, "measure": s.measure, "count": s.count,
                 "share": "" if s.rate is None else f"{s.rate:.1%} of {s.rate_of}"} for s in self.stages]

    def to_dict(self) -> dict[str, Any]:
        """Everything, as JSON-ready values."""
        return asdict(self)


def summarize(store: DuckDBStore, events: dict[str, str] | None = None) -> DemoSummary:
    """Count the people at each of the seven stages in ``store`` (refreshed), by the names in ``events``."""
    names = {**SUMMARY_EVENTS, **(events or {})}
    counts = store.query(_COUNTS, names).to_pylist()[0]
    info = store.info()

    def share(count: int, base: int) -> float | None:
        return count / base if base else None

    c = counts
    stages = (
        StageCount(1, "Traffic", "visitors", c["visitors"], None, None),
        StageCount(2, "Lead capture", "leads", c["leads"], share(c["leads"], c["visitors"]), "visitors"),
        StageCount(3, "Prospect follow-up", "nurtured leads", c["nurtured"], share(c["nurtured"], c["leads"]),
                   "leads"),
        StageCount(4, "Sales", "leads with a sales call", c["contacted"], share(c["contacted"], c["leads"]), "leads"),
        StageCount(4, "Sales", "customers", c["customers"], share(c["customers"], c["leads"]), "leads"),
        StageCount(5, "Delivery", "customers with a wow touch", c["wowed"], share(c["wowed"], c["customers"]),
                   "customers"),
        StageCount(5, "Delivery", "refunded customers", c["refunded"], share(c["refunded"], c["customers"]),
                   "customers"),
        StageCount(6, "Upsell", "upsell buyers", c["upsold"], share(c["upsold"], c["customers"]), "customers"),
        StageCount(7, "Referral", "referred leads", c["referred"], share(c["referred"], c["customers"]), "customers"),
    )
    return DemoSummary(store=store.path, events=info.events, entities=info.entities,
                       identified_entities=info.identified_entities, first_ts=info.first_ts, last_ts=info.last_ts,
                       net_revenue=round(float(c["revenue"]), 2), spend=round(info.spend_total, 2), stages=stages)
