"""Lead economics: a lead's value per horizon and the most to pay for one, the value of a referral and the
most to spend for one, the upsell's effect on lifetime and lead value, and the return of each source.

- lead value(h) = P(a lead buys within h months) × average purchase price (10% × $500 = $50);
  most to pay per lead = lead value × gross margin.
- referral value = lifetime revenue of a referred customer; most to spend per referral = value × the
  share of referred leads who buy ($750 × 30% = $225), also given at the gross margin.
- lifetime value without upsell = main purchases per customer; with upsell it adds
  P(upsell within the horizon) × upsell revenue per upsell buyer; the lead-value effect is that gain
  times P(a lead buys within the horizon).
"""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import num
from buyerjourney.analysis.traffic import source_rows

SOURCE_KEYS = ("source", "visitors", "leads", "customers", "revenue", "spend", "cost_per_lead", "cost_per_customer",
               "return_on_spend")


def avg_price(inp: Inputs) -> float | None:
    """Average revenue of a purchase in the period (``None`` without revenue)."""
    prices = inp.facts.prices
    return prices.get("avg_price") if prices.get("with_revenue") else None


def lead_values(inp: Inputs) -> list[dict[str, Any]]:
    """Lead value and most to pay per lead at each horizon."""
    margin = inp.ctx.config.gross_margin
    price = avg_price(inp)
    money = inp.ctx.money
    rows = []
    for months in inp.ctx.config.horizons_months:
        est = inp.at("lead_customer", months=months)
        conversion = est.value if est else None
        value = None if conversion is None or price is None else conversion * price
        cap = None if value is None else value * margin
        if est is None:
            how = f"unknown: no lead has been on the list {months} months yet"
        elif price is None:
            how = f"unknown: purchases carry no revenue (conversion within {months} months = {conversion:.4f})"
        else:
            how = (f"value = P(buy within {months} months) × average price = {conversion:.4f} × {money(price)} = "
                   f"{money(value)}; most to pay per lead = value × gross margin {margin:.0%} = {money(cap)}; "
                   f"P from {est.how('leads', 'bought')}")
        rows.append({"horizon_months": months, "conversion": conversion, "avg_price": price, "value": value,
                     "max_cost_per_lead": cap, "how": how})
    return rows


def referral(inp: Inputs) -> dict[str, Any]:
    """The value of a referral and the most to spend for one."""
    r = inp.facts.referral
    est = inp.at("lead_customer_by_referred", "referred")
    has_revenue = bool(inp.role("purchase_revenue"))
    ltv = r.get("referred_ltv") if r.get("referred_customers") else None
    basis = "referred customers"
    if ltv is None and has_revenue:
        ltv, basis = r.get("customer_ltv"), "all customers (no referred customer yet)"
    if not has_revenue:
        ltv = None
    conversion = est.value if est else None
    max_spend = None if ltv is None or conversion is None else ltv * conversion
    margin = inp.ctx.config.gross_margin
    money = inp.ctx.money
    if est is None:
        how = ("unknown: no referred lead (a signup with a referrer) has been followed "
               f"{inp.horizon_months} months yet")
    elif ltv is None:
        how = f"unknown: purchases carry no revenue (referral conversion = {conversion:.4f})"
    else:
        how = (f"value = average lifetime revenue (purchases + upsells) of {basis} = {money(ltv)}; most to spend per "
               f"referral = value × referral conversion within {inp.horizon_months} months = {money(ltv)} × "
               f"{conversion:.4f} = {money(max_spend)} ({money(max_spend * margin)} at the {margin:.0%} gross "
               f"margin); conversion from {est.how('referred leads', 'bought')}")
    return {"value": ltv, "conversion": conversion, "max_spend_per_referral": max_spend,
            "max_spend_at_margin": None if max_spend is None else max_spend * margin, "how": how}


def upsell(inp: Inputs) -> dict[str, Any]:
    """Lifetime value with and without upsell, and the upsell's effect on lead value."""
    u = inp.facts.upsell
    money = inp.ctx.money
    horizon = inp.horizon_months
    if not inp.role("purchase_revenue") or not u.get("all_customers"):
        return {"ltv_without": None, "ltv_with": None, "lead_value_effect": None,
                "how": "unknown: purchases carry no revenue"}
    without = u["main_revenue_per_customer"]
    est = inp.at("customer_upsell")
    per_buyer = u.get("upsell_revenue_per_buyer") if u.get("all_upsell_buyers") else None
    if est is None or per_buyer is None:
        why = ("no upsell purchase recorded" if per_buyer is None
               else f"no customer followed {horizon} months after the first purchase yet")
        return {"ltv_without": without, "ltv_with": None, "lead_value_effect": None,
                "how": f"lifetime value without upsell = main purchases per customer = {money(without)} over "
                       f"{num(u['all_customers'])} customers; with upsell: unknown ({why})"}
    with_upsell = without + est.value * per_buyer
    lead = inp.at("lead_customer")
    effect = None if lead is None else lead.value * (with_upsell - without)
    how = (f"without = main purchases per customer = {money(without)} ({num(u['all_customers'])} customers); with = "
           f"without + P(upsell within {horizon} months) × upsell revenue per upsell buyer = {money(without)} + "
           f"{est.value:.4f} × {money(per_buyer)} = {money(with_upsell)}; P from "
           f"{est.how('customers', 'bought an upsell')}")
    if lead is not None:
        how += (f"; effect on lead value = P(lead buys within {horizon} months) × (with − without) = "
                f"{lead.value:.4f} × {money(with_upsell - without)} = {money(effect)}")
    return {"ltv_without": without, "ltv_with": with_upsell, "lead_value_effect": effect,
            "upsell_conversion": est.value, "upsell_revenue_per_buyer": per_buyer, "how": how}


def sources(inp: Inputs) -> list[dict[str, Any]]:
    """Per source: visitors, leads, customers, revenue, spend, cost per lead and customer, return on spend."""
    return [{key: row[key] for key in SOURCE_KEYS} for row in source_rows(inp)]


def compute(inp: Inputs) -> dict[str, Any]:
    """The economics block of the audit document."""
    return {"margin": inp.ctx.config.gross_margin, "lead_value": lead_values(inp), "referral": referral(inp),
            "upsell": upsell(inp), "sources": sources(inp),
            "note": f"money in {inp.ctx.currency or 'the unit of the revenue property'}; conversions are "
                    "Kaplan–Meier estimates, censored at the audit date"}
