"""Stage 2, lead capture: capture mechanisms per product, opt-in rate and sales conversion of each capture."""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import Question, Stage, answered, listing, num, pct, unknown
from buyerjourney.analysis.rates import Share


def analyse(inp: Inputs) -> Stage:
    """The three questions of stage 2."""
    return Stage(2, (mechanisms(inp), optin_rates(inp), capture_conversion(inp)))


def mechanisms(inp: Inputs) -> Question:
    if not inp.role("optin"):
        return unknown("2.1", f"{inp.names('optin')} events with {inp.prop('capture')} and {inp.prop('product')} "
                              "properties", why="there are no opt-in events.")
    if not (inp.role("optin_capture") or inp.role("visit_capture")):
        return unknown("2.1", f"a {inp.prop('capture')} property (the form, download or webinar) on "
                              f"{inp.names('optin')} events", why="opt-ins do not say which capture was used.")
    per_product: dict[str, list[str]] = {}
    for row in inp.facts.capture_products:
        per_product.setdefault(row["product"], [])
        if row["capture"] not in per_product[row["product"]]:
            per_product[row["product"]].append(row["capture"])
    answer = listing((f"{product}: {len(caps)} ({listing(sorted(caps), limit=8)})"
                      for product, caps in sorted(per_product.items())), sep="; ") + "."
    single = [p for p, caps in per_product.items() if len(caps) == 1]
    if single:
        answer += f" Only one way to opt in for {', '.join(sorted(single))}: a second capture gives visitors a choice."
    how = (f"distinct {inp.prop('capture')} values per {inp.prop('product')} on {inp.names('optin')} and "
           f"{inp.names('visit')} events of the last {inp.ctx.period.months} months (no product: "
           "'(any product)'); opt-ins and visitors shown per pair: "
           + listing(f"{r['product']}/{r['capture']} {num(r['optins'])}/{num(r['exposed'])}"
                       for r in inp.facts.capture_products) + ".")
    value = {product: sorted(caps) for product, caps in sorted(per_product.items())}
    return answered("2.1", answer, value, how)


def optin_rows(inp: Inputs) -> list[dict[str, Any]]:
    """Per capture: visitors shown it, opt-ins through it, and the opt-in rate (with how)."""
    rows = []
    for row in inp.facts.captures:
        share = Share(row["optins"], row["exposed"])
        rows.append({"capture": row["capture"], "exposed": row["exposed"], "optins": row["optins"],
                     "optin_rate": share.value, "how": share.how("opt-ins", "visitors shown it")})
    return rows


def optin_rates(inp: Inputs) -> Question:
    if not inp.role("optin"):
        return unknown("2.2", f"{inp.names('optin')} events with a {inp.prop('capture')} property",
                       why="there are no opt-in events.")
    if not inp.role("visit_capture"):
        return unknown("2.2", f"a {inp.prop('capture')} property on {inp.names('visit')} events (which capture each "
                              "visitor was shown), so opt-ins can be divided by the visitors exposed",
                       why="no visit says which capture it showed.")
    rows = [r for r in optin_rows(inp) if r["exposed"]]
    ranked = sorted(rows, key=lambda r: (-(r["optin_rate"] or 0), r["capture"]))
    answer = "Opt-in rate per capture: " + listing(
        f"{r['capture']} {pct(r['optin_rate'])} ({num(r['optins'])} of {num(r['exposed'])} visitors shown it)"
        for r in ranked) + "."
    if len(ranked) > 1:
        answer += f" Weakest: {ranked[-1]['capture']}."
    how = (f"opt-in rate = distinct entities with a {inp.names('optin')} carrying that {inp.prop('capture')} / "
           f"distinct visitors with a {inp.names('visit')} carrying it, last {inp.ctx.period.months} months: "
           + listing((f"{r['capture']}: {r['how']}" for r in ranked), sep="; ") + ".")
    return answered("2.2", answer, ranked, how)


def conversion_rows(inp: Inputs) -> list[dict[str, Any]]:
    """Per capture: leads (first opt-in through it), converted to date and within the horizon."""
    return inp.segment_conversion(inp.facts.captures, "capture", "lead_customer_by_capture")


def capture_conversion(inp: Inputs) -> Question:
    if not inp.role("optin_capture"):
        return unknown("2.3", f"a {inp.prop('capture')} property on {inp.names('optin')} events",
                       why="opt-ins do not say which capture was used.")
    if not inp.role("purchase"):
        return unknown("2.3", f"{inp.names('purchase')} events", why="there are no purchases to convert into.")
    rows = conversion_rows(inp)
    horizon = inp.horizon_months
    known = sorted((r for r in rows if r["lead_to_customer"] is not None),
                   key=lambda r: (-r["lead_to_customer"], r["capture"]))
    if known:
        answer = f"Leads who buy within {horizon} months, per capture: " + listing(
            f"{r['capture']} {pct(r['lead_to_customer'])}" for r in known) + "."
    else:
        answer = "Leads converted to date per capture: " + listing(
            f"{r['capture']} {pct(r['conversion_to_date'])}" for r in rows) + "."
    how = (f"per capture of the lead's first opt-in: leads = first opt-ins in the last {inp.ctx.period.months} "
           f"months; conversion within {horizon} months = Kaplan–Meier over all leads to date (recent leads are "
           "censored, not counted as lost): " + listing((f"{r['capture']}: {r['how']}" for r in rows), sep="; ")
           + ".")
    return answered("2.3", answer, rows, how)
