"""Stage 1, traffic: distinct and consistent sources, traffic per source per month, each source's quality."""

from __future__ import annotations

import math
from typing import Any

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import Question, Stage, answered, listing, num, pct, unknown
from buyerjourney.analysis.rates import Share, div

EMPTY = "(empty)"


def analyse(inp: Inputs) -> Stage:
    """The three questions of stage 1."""
    return Stage(1, (sources_and_consistency(inp), traffic_per_month(inp), source_quality(inp)))


def _monthly(inp: Inputs) -> tuple[str, dict[str, dict[str, int]]]:
    """Per source, per month counts: visitors when visits carry a source, else leads by attributed source."""
    rows: list[dict[str, Any]]
    if inp.role("visit_source"):
        basis, rows, key = "visitors", inp.facts.traffic_by_month, "visitors"
    else:
        basis, rows, key = "leads", inp.facts.leads_by_month_source, "leads"
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        table.setdefault(row["source"], {})[row["month"]] = int(row[key])
    return basis, table


def concentration(volumes: dict[str, float]) -> tuple[str | None, float | None, float | None]:
    """Top source, its share, and the Herfindahl–Hirschman index (sum of squared percentage shares)."""
    total = sum(volumes.values())
    if not total:
        return None, None, None
    top = max(sorted(volumes), key=lambda name: volumes[name])
    hhi = sum((100 * v / total) ** 2 for v in volumes.values())
    return top, volumes[top] / total, hhi


def sources_and_consistency(inp: Inputs) -> Question:
    if not (inp.role("visit_source") or inp.role("optin_source")):
        return unknown("1.1", f"a {inp.prop('source')} property (channel or utm_source) on {inp.names('visit')} "
                              f"events, or at least on {inp.names('optin')} events",
                       why="no visit or opt-in carries a traffic source.")
    basis, table = _monthly(inp)
    months = list(inp.ctx.period.month_labels)
    data_months = [m for m in months if any(m in counts for counts in table.values())]
    need = math.ceil(inp.ctx.config.thresholds.consistent_share * len(data_months)) if data_months else 0
    named = {s: c for s, c in table.items() if s != EMPTY}
    active = {s: sum(1 for m in data_months if counts.get(m, 0) > 0) for s, counts in named.items()}
    consistent = sorted((s for s, n in active.items() if n >= need and n > 0), key=lambda s: (-active[s], s))
    totals = {s: float(sum(c.values())) for s, c in named.items()}
    top, top_share, hhi = concentration(totals)
    th = inp.ctx.config.thresholds
    concentrated = top_share is not None and (top_share > th.concentration_top_share or hhi > th.concentration_hhi)
    warning = ""
    if concentrated:
        warning = (f" Warning: traffic is concentrated: {top} brings {pct(top_share)} of {basis} (HHI {hhi:,.0f}); "
                   "losing that one source would cut the journey at its start.")
    answer = (f"{len(named)} distinct sources; {len(consistent)} consistent (active in at least {need} of the "
              f"{len(data_months)} months with data): {', '.join(consistent) or 'none'}.{warning}")
    if basis == "leads":
        answer += " Measured on leads, because visits carry no source."
    how = (f"sources = distinct {inp.prop('source')} values on {basis} over the last {len(months)} months "
           f"({EMPTY} not counted); active months per source: "
           + listing(f"{s} {n}" for s, n in sorted(active.items(), key=lambda kv: (-kv[1], kv[0])))
           + f"; consistent = active in ≥ {th.consistent_share:.0%} × {len(data_months)} = {need} months. "
           f"Concentration: top share = {top} {num(totals.get(top or '', 0))} / {num(sum(totals.values()))} {basis} "
           f"= {pct(top_share)}; HHI = Σ (100 × share)² = {num(round(hhi or 0))} (warn above "
           f"{th.concentration_top_share:.0%} or {th.concentration_hhi:,.0f}).")
    value = {"sources": len(named), "consistent": consistent, "consistent_count": len(consistent),
             "active_months": active, "months_with_data": len(data_months), "basis": basis, "top_source": top,
             "top_share": top_share, "hhi": hhi, "concentrated": concentrated}
    track = None if basis == "visitors" else f"{inp.names('visit')} events with a {inp.prop('source')} property"
    return answered("1.1", answer, value, how, track=track)


def traffic_per_month(inp: Inputs) -> Question:
    if not inp.role("visit"):
        return unknown("1.2", f"{inp.names('visit')} events (page views) with a {inp.prop('source')} property",
                       why="there are no visit events, so traffic cannot be counted.")
    if not inp.role("visit_source"):
        return unknown("1.2", f"a {inp.prop('source')} property on {inp.names('visit')} events",
                       why="visits carry no traffic source.")
    _, table = _monthly(inp)
    months = list(inp.ctx.period.month_labels)
    data_months = [m for m in months if any(m in counts for counts in table.values())]
    series = {s: [counts.get(m, 0) for m in months] for s, counts in table.items()}
    average = {s: sum(counts.get(m, 0) for m in data_months) / len(data_months) for s, counts in table.items()}
    order = sorted(average, key=lambda s: (-average[s], s))
    last = data_months[-1] if data_months else None
    answer = ("Visitors a month on average: " + listing(f"{s} {num(round(average[s]))}" for s in order)
              + f"; total {num(round(sum(average.values())))} a month over {len(data_months)} months.")
    if last:
        answer += f" In {last}: " + listing(f"{s} {num(table[s].get(last, 0))}" for s in order) + "."
    how = (f"visitors = distinct entities with a {inp.names('visit')} event carrying that {inp.prop('source')} in "
           f"the calendar month (UTC); average = sum over the {len(data_months)} months with visits / "
           f"{len(data_months)}; e.g. {order[0]}: {num(sum(table[order[0]].values()))} / {len(data_months)} = "
           f"{num(round(average[order[0]], 1))}.")
    value = {"months": months, "by_source": series, "average_per_month": average}
    return answered("1.2", answer, value, how)


def source_rows(inp: Inputs) -> list[dict[str, Any]]:
    """Per source: visitors, leads, customers, revenue and spend in the period, with rates and how."""
    horizon = inp.horizon_months
    rows = []
    for row in inp.facts.sources:
        source = row["source"]
        est = inp.at("lead_customer_by_source", source)
        spend, revenue = row["spend"], row["revenue"]
        to_date = Share(row["converted_leads"], row["leads"])
        out = {
            "source": source, "visitors": row["visitors"], "leads": row["leads"],
            "converted_leads": row["converted_leads"], "customers": row["customers"], "revenue": revenue,
            "spend": spend, "leads_per_visitor": div(row["leads"], row["visitors"]),
            "customers_per_visitor": div(row["customers"], row["visitors"]),
            "conversion_to_date": to_date.value,
            "lead_to_customer": est.value if est else None,
            "cost_per_lead": div(spend, row["leads"]), "cost_per_customer": div(spend, row["customers"]),
            "return_on_spend": div(revenue, spend),
        }
        parts = [f"leads per visitor = {num(row['leads'])} / {num(row['visitors'])}",
                 f"converted to date = {to_date.how('bought', 'leads')}"]
        if est:
            parts.append(f"within {horizon} months: {est.how('leads', 'bought')}")
        if spend is not None:
            parts.append(f"cost per lead = {inp.ctx.money(spend)} / {num(row['leads'])}; cost per customer = "
                         f"{inp.ctx.money(spend)} / {num(row['customers'])} new customers")
            if revenue is not None:
                parts.append(f"return on spend = revenue {inp.ctx.money(revenue)} / spend {inp.ctx.money(spend)}")
        out["how"] = "; ".join(parts)
        rows.append(out)
    return rows


def source_quality(inp: Inputs) -> Question:
    if not (inp.role("visit_source") or inp.role("optin_source")):
        return unknown("1.3", f"a {inp.prop('source')} property on {inp.names('visit')} or {inp.names('optin')} "
                              "events", why="no lead can be traced to a source.")
    rows = source_rows(inp)
    if not inp.role("purchase"):
        return unknown("1.3", f"{inp.names('purchase')} events", why="there are no purchases, so no sales per source.")
    ranked = [r for r in rows if r["lead_to_customer"] is not None and r["leads"] >= 1]
    horizon = inp.horizon_months
    parts = []
    if ranked:
        best = max(ranked, key=lambda r: (r["lead_to_customer"], r["source"]))
        worst = min(ranked, key=lambda r: (r["lead_to_customer"], r["source"]))
        parts.append(f"Best source: {best['source']} ({pct(best['lead_to_customer'])} of its leads buy within "
                     f"{horizon} months); worst: {worst['source']} ({pct(worst['lead_to_customer'])}).")
    with_leads = [r for r in rows if r["leads"]]
    parts.append("Leads → customers to date: " + listing(
        f"{r['source']} {num(r['converted_leads'])}/{num(r['leads'])} ({pct(r['conversion_to_date'])})"
        for r in with_leads) + ".")
    paid = [r for r in rows if r["cost_per_customer"] is not None]
    if paid:
        parts.append("Cost per new customer: " + listing(
            f"{r['source']} {inp.ctx.money(r['cost_per_customer'])}" for r in paid) + ".")
    how = (f"per attributed source (first touch: the earliest visit or opt-in carrying {inp.prop('source')}), over "
           f"the last {inp.ctx.period.months} months: leads = entities whose first opt-in is in the period; "
           "converted to date = those leads who have bought since; lead-to-customer within "
           f"{horizon} months = Kaplan–Meier per source over all leads to date (recent leads censored, not lost); "
           "customers = entities whose first purchase is in the period; revenue = purchases and upsells in the "
           "period; cost per lead / customer and return on spend use the spend table. Each row's `how` has its "
           "counts.")
    track = None if inp.role("spend_rows") else "marketing spend per source (buyerjourney import --spend FILE)"
    return answered("1.3", " ".join(parts), rows, how, track=track)
