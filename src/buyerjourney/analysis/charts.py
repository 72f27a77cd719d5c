"""The chart data of the audit document: small tables the HTML report draws (no drawing here)."""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.delivery import product_rows
from buyerjourney.analysis.followup import time_histogram
from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.traffic import source_rows


def journey(inp: Inputs) -> list[dict[str, Any]]:
    """People reaching each stage in the period, and how many of the stage they come from did not.

    Leads come from visitors and customers from leads; kept customers, upsell buyers and referrers are
    each a part of the customers, so their ``lost`` is counted against the customers.
    """
    t = inp.facts.totals
    has = {"Visitors": inp.role("visit"), "Leads": inp.role("optin"), "Customers": inp.role("purchase"),
           "Kept customers": inp.role("refund") or inp.role("return_"),
           "Upsell buyers": inp.role("upsell_purchase"), "Referrers": inp.role("referred")}
    steps = [("Visitors", "visitors", None), ("Leads", "leads", "visitors"), ("Customers", "customers", "leads"),
             ("Kept customers", "kept", "customers"), ("Upsell buyers", "upsold", "customers"),
             ("Referrers", "referrers", "customers")]
    out: list[dict[str, Any]] = []
    for name, key, base in steps:
        if not has[name]:
            continue
        count = int(t.get(key) or 0)
        lost = None if base is None or not _has_base(has, base) else max(int(t.get(base) or 0) - count, 0)
        out.append({"stage": name, "count": count, "lost": lost})
    return out


def _has_base(has: dict[str, int], base: str) -> bool:
    """Whether the stage counted as ``base`` (a totals key) is in the data."""
    return bool(has[{"visitors": "Visitors", "leads": "Leads", "customers": "Customers"}[base]])


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
