"""The chart data of the audit document: small tables the HTML report draws (no drawing here)."""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.delivery import product_rows
from buyerjourney.analysis.followup import time_histogram
from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.traffic import source_rows


def journey(inp: Inputs) -> list[dict[str, Any]]:
    """Entities reaching each stage in the period, and how many of the previous stage did not."""
    t = inp.facts.totals
    steps = [("Visitors", t.get("visitors")), ("Leads", t.get("leads")), ("Customers", t.get("customers")),
             ("Kept customers", t.get("kept") if inp.role("refund") or inp.role("return_") else None),
             ("Upsell buyers", t.get("upsold") if inp.role("upsell_purchase") else None),
             ("Referrers", t.get("referrers") if inp.role("referred") else None)]
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for name, count in steps:
        if count is None or (name == "Visitors" and not inp.role("visit")):
            continue
        count = int(count)
        out.append({"stage": name, "count": count, "lost": None if previous is None else max(previous - count, 0)})
        previous = count
    return out


def cohort_curves(inp: Inputs) -> list[dict[str, Any]]:
    """Cumulative conversion by days since opt-in, one curve per entry month of the period."""
    months = set(inp.ctx.period.month_labels)
    out = []
    for cohort, curve in sorted(inp.curves.get("lead_customer_by_cohort", {}).items()):
        if cohort not in months or not curve.entrants:
            continue
        days, conversion = curve.sampled(7)
        out.append({"cohort": cohort, "leads": curve.entrants, "days": days, "conversion": conversion})
    return out


def build(inp: Inputs) -> dict[str, Any]:
    """Every chart's data."""
    return {
        "journey": journey(inp),
        "cohort_curves": cohort_curves(inp) if inp.role("purchase") else [],
        "time_to_purchase": time_histogram(inp),
        "source_quality": [{k: r[k] for k in ("source", "visitors", "leads", "customers", "spend")}
                           for r in source_rows(inp)],
        "refunds_by_product": [{k: r[k] for k in ("product", "customers", "refund_rate", "return_rate",
                                                  "complaint_rate")} for r in product_rows(inp)],
        "traffic_by_month": [dict(r) for r in inp.facts.traffic_by_month],
    }
