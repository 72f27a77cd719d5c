"""Stage 6, upsell: the extra offers and what customers buy second, upsell conversion, price and effect."""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import Question, Stage, answered, listing, num, pct, unknown
from buyerjourney.analysis.rates import Share


def analyse(inp: Inputs, economics: dict[str, Any]) -> Stage:
    """The three questions of stage 6 (6.3 reads the upsell block of the economics)."""
    return Stage(6, (offers(inp), conversion(inp), price_and_effect(inp, economics["upsell"])))


def _track_upsell(inp: Inputs) -> str:
    return (f"{inp.names('upsell_offer')} events when a customer is offered an extra product and "
            f"{inp.names('upsell_purchase')} events (with {inp.prop('product')} and {inp.prop('revenue')}) when "
            "they buy it")


def offers(inp: Inputs) -> Question:
    f = inp.facts
    if not (inp.role("upsell_offer") or inp.role("upsell_purchase") or f.second_products):
        return unknown("6.1", _track_upsell(inp),
                       why="no upsell offer, upsell purchase or second purchase is recorded.")
    u = f.upsell
    offered = Share(u.get("offered") or 0, u.get("customers") or 0)
    parts = []
    if f.offers:
        parts.append("Offers in the period: " + listing(
            f"{r['product']} ({num(r['offers'])} offers to {num(r['customers'])} customers)" for r in f.offers) + ".")
        parts.append(f"{pct(offered.value)} of the period's customers were offered an upsell.")
    else:
        parts.append("No upsell offer is recorded.")
    if f.second_products:
        parts.append("Bought second: " + listing(f"{r['product']} {num(r['customers'])}"
                                                    for r in f.second_products) + ".")
    how = (f"offers = {inp.names('upsell_offer')} events per {inp.prop('product')} in the last "
           f"{inp.ctx.period.months} months; offered share = {offered.how('customers offered', 'customers')}; "
           f"bought second = product of each customer's second purchase or upsell purchase, when it falls in the "
           "period")
    value = {"offers": f.offers, "upsell_purchases": f.upsells, "second_products": f.second_products,
             "offered_share": offered.value}
    track = None if inp.role("upsell_offer") else f"{inp.names('upsell_offer')} events"
    return answered("6.1", " ".join(parts), value, how, track=track)


def conversion(inp: Inputs) -> Question:
    if not inp.role("upsell_purchase"):
        return unknown("6.2", _track_upsell(inp), why="no upsell purchase is recorded.")
    if not inp.role("purchase"):
        return unknown("6.2", f"{inp.names('purchase')} events", why="there are no first purchases to upsell.")
    rows = []
    for months in inp.ctx.config.horizons_months:
        est = inp.at("customer_upsell", months=months)
        rows.append({"horizon_months": months, "conversion": est.value if est else None,
                     "how": est.how("customers", "bought an upsell") if est else
                     f"not estimable: no customer followed {months} months yet"})
    offer = inp.at("offer_upsell")
    known = [r for r in rows if r["conversion"] is not None]
    answer = ("Customers who buy an upsell: " + ", ".join(
        f"{pct(r['conversion'])} within {r['horizon_months']} months" for r in known) + "." if known
        else "No customer has been followed long enough yet.")
    if offer:
        answer += f" Of customers offered one, {pct(offer.value)} buy within {inp.horizon_months} months."
    how = ("upsell conversion = 1 − S(t), Kaplan–Meier from the first purchase to the first upsell purchase "
           "(censored at the audit date): " + "; ".join(f"{r['horizon_months']} months: {r['how']}" for r in rows))
    if offer:
        how += f"; offered → bought: {offer.how('offered customers', 'bought')}"
    value = {"horizons": rows, "offer_to_purchase": offer.value if offer else None}
    return answered("6.2", answer, value, how)


def price_and_effect(inp: Inputs, upsell: dict[str, Any]) -> Question:
    if not inp.role("upsell_purchase"):
        return unknown("6.3", _track_upsell(inp), why="no upsell purchase is recorded.")
    if not inp.role("upsell_revenue"):
        return unknown("6.3", f"a {inp.prop('revenue')} property on {inp.names('upsell_purchase')} events",
                       why="upsell purchases carry no revenue.")
    rows = inp.facts.upsells
    purchases = sum(int(r["purchases"]) for r in rows)
    revenue = sum(float(r["revenue"] or 0) for r in rows)
    price = revenue / purchases if purchases else None
    money = inp.ctx.money
    answer = f"The average upsell is {money(price)} over {num(purchases)} upsell purchases in the period."
    if upsell.get("ltv_with") is not None:
        answer += (f" Lifetime value per customer: {money(upsell['ltv_without'])} without upsell, "
                   f"{money(upsell['ltv_with'])} with it")
        answer += (f"; it adds {money(upsell['lead_value_effect'])} to the value of a lead."
                   if upsell.get("lead_value_effect") is not None else ".")
    how = (f"average upsell price = upsell revenue / upsell purchases in the period = {money(revenue)} / "
           f"{num(purchases)}; {upsell['how']}")
    value = {"avg_upsell_price": price, "upsell_purchases": purchases, "upsell_revenue": revenue,
             "ltv_without": upsell.get("ltv_without"), "ltv_with": upsell.get("ltv_with"),
             "lead_value_effect": upsell.get("lead_value_effect")}
    return answered("6.3", answer, value, how)
