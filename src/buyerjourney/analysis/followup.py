"""Stage 3, prospect follow-up: censored lead-to-sale conversion, time on the list, average purchase price."""

from __future__ import annotations

from typing import Any

import numpy as np

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import MONTH_DAYS, Question, Stage, answered, listing, num, pct, unknown
from buyerjourney.analysis.rates import Share

#: Histogram edges of time to purchase, in months (the last bin runs to the longest time seen).
HISTOGRAM_MONTHS = (0, 1, 2, 3, 4, 5, 6, 9, 12, 15, 18, 24, 36)


def analyse(inp: Inputs) -> Stage:
    """The three questions of stage 3."""
    return Stage(3, (conversion(inp), time_on_list(inp), purchase_price(inp)))


def _missing_lead_or_sale(inp: Inputs, qid: str) -> Question | None:
    if not inp.role("optin"):
        return unknown(qid, f"{inp.names('optin')} events (the moment someone becomes a lead)",
                       why="there are no opt-in events.")
    if not inp.role("purchase"):
        return unknown(qid, f"{inp.names('purchase')} events", why="there are no purchases.")
    return None


def horizon_rows(inp: Inputs) -> list[dict[str, Any]]:
    """Lead-to-sale conversion within each configured horizon (Kaplan–Meier), with how."""
    rows = []
    for months in inp.ctx.config.horizons_months:
        est = inp.at("lead_customer", months=months)
        rows.append({"horizon_months": months, "conversion": est.value if est else None,
                     "se": est.se if est else None, "at_risk": est.at_risk if est else None,
                     "how": est.how("leads", "bought") if est else
                     f"not estimable: no lead has been on the list {months} months yet"})
    return rows


def conversion(inp: Inputs) -> Question:
    missing = _missing_lead_or_sale(inp, "3.1")
    if missing:
        return missing
    curve = inp.curve("lead_customer")
    rows = horizon_rows(inp)
    known = [r for r in rows if r["conversion"] is not None]
    answer = (f"Of {num(curve.entrants if curve else 0)} leads, " + ", ".join(
        f"{pct(r['conversion'])} buy within {r['horizon_months']} months" for r in known) + "."
              if known else "No lead has been followed long enough for the shortest horizon yet.")
    answer += " Recent leads count as still open (censored), not as lost."
    totals = inp.facts.totals
    nurtured = Share(totals.get("nurtured_leads") or 0, totals.get("leads") or 0)
    track = None
    if inp.role("nurture"):
        answer += f" {pct(nurtured.value)} of the period's leads got a follow-up touch."
    else:
        track = f"follow-up touches ({inp.names('nurture')}) to see whether leads are nurtured"
    how = ("cumulative conversion = 1 − S(t), Kaplan–Meier over every lead (entry = first opt-in, event = first "
           "purchase, censored at the audit date): " + "; ".join(f"{r['horizon_months']} months: {r['how']}"
                                                                for r in rows))
    if inp.role("nurture"):
        how += f". Nurtured = {nurtured.how('leads with a follow-up touch', 'leads of the period')}"
    value = {"leads": curve.entrants if curve else 0, "buyers": curve.converted if curve else 0,
             "horizons": rows, "nurtured_share": nurtured.value if inp.role("nurture") else None}
    return answered("3.1", answer, value, how, track=track)


def _overall_cycle(inp: Inputs) -> dict[str, Any] | None:
    return next((row for row in inp.facts.cycle if row["lead_type"] is None), None)


def time_on_list(inp: Inputs) -> Question:
    missing = _missing_lead_or_sale(inp, "3.2")
    if missing:
        return missing
    overall = _overall_cycle(inp)
    if not overall or not overall["n"]:
        return unknown("3.2", f"{inp.names('optin')} events for the people who buy (and {inp.names('purchase')} "
                              "under the same person)", why="no customer of the period has an opt-in.")
    days = [(int(r["days"]), int(r["n"])) for r in inp.facts.cycle_days]
    n = sum(count for _, count in days)
    early = sum(c for d, c in days if d < 3 * MONTH_DAYS)
    mid = sum(c for d, c in days if 3 * MONTH_DAYS <= d <= 18 * MONTH_DAYS)
    late = n - early - mid
    answer = (f"Buyers spent a median of {num(overall['median'])} days (mean {num(round(overall['mean'], 1))}) on "
              f"the list before their first purchase; {pct(mid / n)} bought 3–18 months after opting in, "
              f"{pct(early / n)} within 3 months and {pct(late / n)} later.")
    how = (f"days = calendar days (UTC) from first opt-in to first purchase, for the {num(n)} customers whose first "
           f"purchase is in the last {inp.ctx.period.months} months; median and mean over them "
           f"(min {num(overall['min'])}, max {num(overall['max'])}); 3–18 months = {num(mid)} / {num(n)}, "
           f"under 3 months = {num(early)} / {num(n)}, over 18 months = {num(late)} / {num(n)} "
           f"(a month = {MONTH_DAYS} days).")
    value = {"buyers": n, "median_days": overall["median"], "mean_days": overall["mean"],
             "min_days": overall["min"], "max_days": overall["max"], "share_within_3_months": early / n,
             "share_3_to_18_months": mid / n, "share_after_18_months": late / n}
    return answered("3.2", answer, value, how)


def time_histogram(inp: Inputs) -> dict[str, list[float]]:
    """Time to purchase in days, binned by months (for the chart)."""
    days = np.array([max(int(r["days"]), 0) for r in inp.facts.cycle_days], dtype=float)
    weights = np.array([int(r["n"]) for r in inp.facts.cycle_days], dtype=float)
    if not len(days):
        return {"bin_edges_days": [], "counts": []}
    edges = [round(m * MONTH_DAYS) for m in HISTOGRAM_MONTHS if m * MONTH_DAYS < days.max()]
    edges.append(int(days.max()) + 1)
    counts, _ = np.histogram(days, bins=edges, weights=weights)
    return {"bin_edges_days": edges, "counts": [int(c) for c in counts]}


def purchase_price(inp: Inputs) -> Question:
    if not inp.role("purchase"):
        return unknown("3.3", f"{inp.names('purchase')} events with a {inp.prop('revenue')} property",
                       why="there are no purchases.")
    prices = inp.facts.prices
    if not inp.role("purchase_revenue") or not prices.get("with_revenue"):
        return unknown("3.3", f"a {inp.prop('revenue')} property (the amount paid) on {inp.names('purchase')} events",
                       why="purchases carry no revenue.")
    by_product = [{"product": r["product"], "purchases": r["purchases"], "avg_price": r["avg_price"],
                   "revenue": r["revenue"]} for r in inp.facts.price_by_product]
    money = inp.ctx.money
    answer = (f"The average purchase is {money(prices['avg_price'])} over {num(prices['with_revenue'])} purchases "
              f"in the last {inp.ctx.period.months} months"
              + (": " + listing(f"{r['product']} {money(r['avg_price'])}" for r in by_product
                                 if r["avg_price"] is not None) if len(by_product) > 1 else "") + ".")
    how = (f"average price = sum of {inp.prop('revenue')} / purchases with a revenue = {money(prices['revenue'])} / "
           f"{num(prices['with_revenue'])} = {money(prices['avg_price'])} (purchases in the period: "
           f"{num(prices['purchases'])}); per product the same over its purchases.")
    value = {"avg_price": prices["avg_price"], "purchases": prices["purchases"],
             "with_revenue": prices["with_revenue"], "revenue": prices["revenue"], "by_product": by_product}
    return answered("3.3", answer, value, how)
