"""Stage 4, sales: the playbook of each lead type, lead-to-customer conversion, and the sales cycle."""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import Question, Stage, answered, listing, num, pct, unknown
from buyerjourney.analysis.rates import Share

EMPTY = "(empty)"


def analyse(inp: Inputs) -> Stage:
    """The three questions of stage 4."""
    return Stage(4, (playbooks(inp), lead_to_customer(inp), sales_cycle(inp)))


def playbooks(inp: Inputs) -> Question:
    if not inp.role("lead_type"):
        return unknown("4.1", f"a {inp.prop('lead_type')} property on {inp.names('optin')} or "
                              f"{inp.names('sales_contact')} events (and the playbook of each type under "
                              "`playbooks:` in journey.yaml)", why="no event says what type of lead it is.")
    configured = inp.ctx.config.playbooks
    seen = {r["lead_type"]: r for r in inp.facts.lead_types if r["lead_type"] != EMPTY}
    contacts: dict[str, dict[str, int]] = {}
    for row in inp.facts.outcomes:
        contacts.setdefault(row["lead_type"], {})[row["outcome"]] = int(row["contacts"])
    value: dict[str, Any] = {}
    for lead_type in sorted(seen, key=lambda t: (-seen[t]["leads"], t)):
        row = seen[lead_type]
        value[lead_type] = {"playbook": configured.get(lead_type), "leads": row["leads"],
                            "customers": row["customers"],
                            "sales_contacts": sum(contacts.get(lead_type, {}).values()),
                            "outcomes": contacts.get(lead_type, {})}
    without = [t for t, v in value.items() if v["playbook"] is None]
    unused = sorted(set(configured) - set(seen))
    answer = f"{len(value) - len(without)} of {len(value)} lead types have a playbook in journey.yaml"
    answer += (f"; none for {', '.join(without)}." if without else ".")
    if any(v["sales_contacts"] for v in value.values()):
        answer += " Sales contacts in the period: " + listing(
            f"{t} {num(v['sales_contacts'])}" for t, v in value.items()) + "."
    if unused:
        answer += f" Playbooks for lead types not in the data: {', '.join(unused)}."
    how = (f"lead types = distinct {inp.prop('lead_type')} values on opt-ins, sales contacts and purchases; "
           "playbook = the `playbooks:` entry of journey.yaml for that type; leads = first opt-ins in the last "
           f"{inp.ctx.period.months} months per type, customers = first purchases per type, sales contacts = "
           f"{inp.names('sales_contact')} events per type and {inp.prop('outcome')}.")
    return answered("4.1", answer, value, how)


def lead_type_rows(inp: Inputs) -> list[dict[str, Any]]:
    """Per lead type known before the sale: leads, converted to date and within the horizon."""
    return inp.segment_conversion(inp.facts.lead_types, "lead_type", "lead_customer_by_lead_type", skip=(EMPTY,))


def lead_to_customer(inp: Inputs) -> Question:
    if not inp.role("optin"):
        return unknown("4.2", f"{inp.names('optin')} events", why="there are no leads.")
    if not inp.role("purchase"):
        return unknown("4.2", f"{inp.names('purchase')} events", why="there are no customers.")
    totals = inp.facts.totals
    leads = int(totals.get("leads") or 0)
    converted = sum(int(r["converted_leads"]) for r in inp.facts.sources)
    to_date = Share(converted, leads)
    est = inp.at("lead_customer")
    horizon = inp.horizon_months
    by_type = lead_type_rows(inp)
    contact = inp.at("contact_customer")
    answer = f"{num(converted)} of {num(leads)} leads of the period ({pct(to_date.value)}) have bought so far"
    answer += (f"; {pct(est.value)} of leads buy within {horizon} months (censored estimate)." if est else ".")
    if by_type:
        answer += " Per lead type: " + listing(_type_rate(r, horizon) for r in by_type) + "."
    if contact:
        answer += f" Of leads in contact with sales, {pct(contact.value)} buy within {horizon} months."
    track = None
    if not by_type:
        track = (f"a {inp.prop('lead_type')} property on {inp.names('optin')} or {inp.names('sales_contact')} "
                 "events, to measure conversion per lead type (on purchases alone it only describes buyers)")
    how = (f"to date = leads (first opt-in in the last {inp.ctx.period.months} months) who have bought since / "
           f"those leads = {to_date.how()}")
    if est:
        how += f"; within {horizon} months: {est.how('leads', 'bought')}"
    if contact:
        how += f"; sales contact → customer within {horizon} months: {contact.how('contacted leads', 'bought')}"
    if by_type:
        how += "; per lead type: " + listing((f"{r['lead_type']}: {r['how']}" for r in by_type), sep="; ")
    flows = {row["month"]: row for row in inp.facts.flows_by_month}
    by_month = [{"month": month, "leads": flows.get(month, {}).get("leads", 0),
                 "customers": flows.get(month, {}).get("customers", 0), "revenue": flows.get(month, {}).get("revenue")}
                for month in inp.ctx.period.month_labels]
    how += ("; by month: leads = first opt-ins in the month, customers = first purchases in the month, revenue = "
            "purchases and upsells in the month")
    value = {"leads": leads, "converted_leads": converted, "conversion_to_date": to_date.value,
             "lead_to_customer": est.value if est else None, "horizon_months": horizon, "by_lead_type": by_type,
             "sales_contact_to_customer": contact.value if contact else None, "by_month": by_month}
    return answered("4.2", answer, value, how, track=track)


def _type_rate(row: dict[str, Any], horizon: int) -> str:
    if row["lead_to_customer"] is not None:
        return f"{row['lead_type']} {pct(row['lead_to_customer'])} within {horizon} months"
    return f"{row['lead_type']} {pct(row['conversion_to_date'])} so far"


def sales_cycle(inp: Inputs) -> Question:
    if not (inp.role("optin") and inp.role("purchase")):
        return unknown("4.3", f"{inp.names('optin')} and {inp.names('purchase')} events for the same people",
                       why="the start or the end of the sales cycle is not recorded.")
    overall = next((r for r in inp.facts.cycle if r["lead_type"] is None), None)
    if not overall or not overall["n"]:
        return unknown("4.3", f"{inp.names('optin')} events for the people who buy",
                       why="no customer of the period has an opt-in.")
    by_type = [{"lead_type": r["lead_type"], "deals": r["n"], "median_days": r["median"], "mean_days": r["mean"],
                "min_days": r["min"], "max_days": r["max"]} for r in inp.facts.cycle if r["lead_type"] is not None]
    answer = (f"The sales cycle (opt-in to first purchase) has a median of {num(overall['median'])} days and a mean "
              f"of {num(round(overall['mean'], 1))} days over {num(overall['n'])} deals")
    if by_type:
        answer += "; per lead type (median): " + listing(
            f"{r['lead_type']} {num(r['median_days'])}" for r in by_type) + "."
    how = (f"cycle = calendar days (UTC) from the first {inp.names('optin')} to the first {inp.names('purchase')}, "
           f"for customers whose first purchase is in the last {inp.ctx.period.months} months; median and mean "
           f"over the {num(overall['n'])} deals (sum {num(round(overall['mean'] * overall['n']))} days / "
           f"{num(overall['n'])}); lead type = {inp.prop('lead_type')} at opt-in or sales contact, else on the "
           f"purchase, else {EMPTY}.")
    value = {"overall": {"deals": overall["n"], "median_days": overall["median"], "mean_days": overall["mean"],
                         "min_days": overall["min"], "max_days": overall["max"]}, "by_lead_type": by_type}
    return answered("4.3", answer, value, how)
