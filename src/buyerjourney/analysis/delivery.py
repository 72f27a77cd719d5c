"""Stage 5, delivery: wow touches, testimonials, and return, refund and complaint rates per product."""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import Question, Stage, answered, listing, num, pct, unknown
from buyerjourney.analysis.rates import Share


def analyse(inp: Inputs) -> Stage:
    """The three questions of stage 5."""
    return Stage(5, (wow_touches(inp), testimonials(inp), refunds(inp)))


def _no_customers(inp: Inputs, qid: str) -> Question | None:
    if not inp.role("purchase"):
        return unknown(qid, f"{inp.names('purchase')} events", why="there are no customers.")
    if not inp.facts.delivery.get("customers"):
        return unknown(qid, f"{inp.names('purchase')} events in the period", why="no customer bought in the period.")
    return None


def refund_split(inp: Inputs) -> tuple[Share, Share]:
    """Refund rate of customers with a wow touch, and without one."""
    d = inp.facts.delivery
    return (Share(d["refunded_wow"], d["wow"]), Share(d["refunded_no_wow"], d["customers"] - d["wow"]))


def wow_touches(inp: Inputs) -> Question:
    missing = _no_customers(inp, "5.1")
    if missing:
        return missing
    if not inp.role("wow"):
        return unknown("5.1", f"a wow-touch event ({inp.names('wow')}, with a {inp.prop('wow_kind')} such as call, "
                              "card or gift) whenever a customer is thanked or surprised",
                       why="no wow touch is recorded.")
    d = inp.facts.delivery
    share = Share(d["wow"], d["customers"])
    est = inp.at("customer_wow")
    with_wow, without = refund_split(inp)
    kinds = {r["kind"]: r["customers"] for r in inp.facts.wow_kinds}
    listed = ", ".join(f"{k} {num(v)}" for k, v in kinds.items())
    answer = (f"{pct(share.value)} of customers got a wow touch ({listed}). Refund rate with a wow touch "
              f"{pct(with_wow.value)}, without {pct(without.value)}.")
    how = (f"share = {share.how('customers with a wow touch', 'customers whose first purchase is in the period')}; "
           f"refunds with wow = {with_wow.how('refunded', 'wow-touched')}; without = "
           f"{without.how('refunded', 'not touched')}")
    if est:
        how += f"; within {inp.horizon_months} months of purchase: {est.how('customers', 'got a wow touch')}"
    value = {"customers": d["customers"], "wow_customers": d["wow"], "wow_share": share.value,
             "wow_within_horizon": est.value if est else None, "by_kind": kinds,
             "refund_rate_with_wow": with_wow.value, "refund_rate_without_wow": without.value}
    return answered("5.1", answer, value, how)


def testimonials(inp: Inputs) -> Question:
    missing = _no_customers(inp, "5.2")
    if missing:
        return missing
    if not inp.role("testimonial"):
        return unknown("5.2", f"a {inp.names('testimonial')} event whenever a customer gives a testimonial",
                       why="no testimonial is recorded.")
    d = inp.facts.delivery
    share = Share(d["testimonials"], d["customers"])
    with_wow = Share(d["testimonials_wow"], d["wow"])
    without = Share(d["testimonials_no_wow"], d["customers"] - d["wow"])
    answer = f"{pct(share.value)} of customers gave a testimonial"
    if inp.role("wow"):
        answer += f": {pct(with_wow.value)} after a wow touch, {pct(without.value)} without one"
    answer += "."
    how = (f"testimonial rate = {share.how('customers with a testimonial', 'customers of the period')}; with wow = "
           f"{with_wow.how()}; without = {without.how()}")
    value = {"customers": d["customers"], "testimonials": d["testimonials"], "testimonial_rate": share.value,
             "rate_with_wow": with_wow.value, "rate_without_wow": without.value}
    return answered("5.2", answer, value, how)


def product_rows(inp: Inputs) -> list[dict[str, Any]]:
    """Per product: customers and their refund, return and complaint rates (with how)."""
    rows = []
    for r in inp.facts.delivery_products:
        refund, ret, complaint = (Share(r["refunded"], r["customers"]), Share(r["returned"], r["customers"]),
                                  Share(r["complained"], r["customers"]))
        rows.append({"product": r["product"], "customers": r["customers"], "refund_rate": refund.value,
                     "return_rate": ret.value, "complaint_rate": complaint.value,
                     "kept_rate": Share(r["customers"] - r["lost"], r["customers"]).value,
                     "how": f"refunds {refund.how()}, returns {ret.how()}, complaints {complaint.how()}"})
    return rows


def refunds(inp: Inputs) -> Question:
    missing = _no_customers(inp, "5.3")
    if missing:
        return missing
    kinds = {"refund": inp.role("refund"), "return": inp.role("return_"), "complaint": inp.role("complaint")}
    if not any(kinds.values()):
        return unknown("5.3", f"{inp.names('refund')}, {inp.names('return_')} and {inp.names('complaint')} events "
                              f"(with the {inp.prop('product')})", why="no refund, return or complaint is recorded.")
    d = inp.facts.delivery
    rows = product_rows(inp)
    overall = {"refund_rate": Share(d["refunded"], d["customers"]), "return_rate": Share(d["returned"], d["customers"]),
               "complaint_rate": Share(d["complained"], d["customers"])}
    answer = (f"Of {num(d['customers'])} customers: refunds {pct(overall['refund_rate'].value)}, returns "
              f"{pct(overall['return_rate'].value)}, complaints {pct(overall['complaint_rate'].value)}.")
    if rows:
        worst = max(rows, key=lambda r: ((r["refund_rate"] or 0) + (r["return_rate"] or 0), r["product"]))
        answer += (f" Highest: {worst['product']} (refunds {pct(worst['refund_rate'])}, returns "
                   f"{pct(worst['return_rate'])} of {num(worst['customers'])} customers).")
    absent = [k for k, n in kinds.items() if not n]
    track = (f"{' and '.join(absent)} events, if any happen (none are recorded)") if absent else None
    how = ("rates = customers with at least one event / customers whose first purchase is in the period: "
           + "; ".join(f"{k.replace('_rate', '')} {s.how()}" for k, s in overall.items())
           + "; per product, customers = buyers of that product in the period and an event counts for the product "
             "it names (else the customer's first product): "
           + listing((f"{r['product']}: {r['how']}" for r in rows), sep="; "))
    value = {"customers": d["customers"], **{k: s.value for k, s in overall.items()}, "by_product": rows}
    return answered("5.3", answer, value, how, track=track)
