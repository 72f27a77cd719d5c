"""Leak ranking, starting at the end: stage transitions (and their sources, captures, products and lead
types) that are significantly below target, ranked from the last stage backwards.

For a transition from ``A`` to ``B`` with conversion ``c`` and target ``t`` (``c < t``):

- units lost per month = A per month × (t − c);
- customers lost per month = units lost × customers each unit brings (1 for a lost sale, the lead's
  conversion for a lost lead, the referral chain for a missed referral request, ...);
- revenue lost per month = units lost × revenue each unit brings;
- promotion spend wasted per month = spend per month × revenue lost / (revenue per month + revenue lost):
  the share of this month's promotion spend that paid for buyers lost here (with customers in place of
  revenue when purchases carry none).

A transition is a leak when ``(t − c) / se ≥ z`` (``thresholds.significance_z``; ``se`` is the measure's
own standard error, Greenwood's for censored conversions, but never below the binomial one at ``t``) on
at least ``thresholds.min_segment`` entrants. A segment (one source, capture, product or lead type) must
also be that far below its peers, so a transition that is low everywhere is reported once, as a whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from buyerjourney.analysis.cohorts import Estimate, pooled
from buyerjourney.analysis.economics import avg_price
from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import MONTH_DAYS, STAGE_NAMES, num, pct
from buyerjourney.analysis.rates import Share, div


@dataclass(frozen=True)
class Measure:
    """A conversion with its standard error and the number of entrants it rests on."""

    value: float
    se: float
    n: int
    how: str


@dataclass(frozen=True)
class Worth:
    """What one unit lost at a transition is worth downstream."""

    customers: float | None
    revenue: float | None
    how: str


@dataclass(frozen=True)
class Transition:
    """A stage transition (or one segment of it) with everything needed to judge and cost it."""

    stage_id: int
    metric: str
    frm: str
    to: str
    measure: Measure
    target: float
    per_month: float
    per_month_how: str
    worth: Worth
    unit: str = "customers"
    segment: dict[str, str] | None = None
    peers: Measure | None = None


def _km(est: Estimate | None, entrants: str, converted: str) -> Measure | None:
    return None if est is None else Measure(est.value, est.se, est.entrants, est.how(entrants, converted))


def _share(share: Share, part: str, whole: str) -> Measure | None:
    return None if share.value is None else Measure(share.value, share.se, int(share.whole), share.how(part, whole))


class _Builder:
    """Collects the transitions of the journey from the inputs."""

    def __init__(self, inp: Inputs, economics: dict[str, Any]) -> None:
        self.inp = inp
        self.months = inp.per_month
        self.targets = inp.ctx.config.targets
        self.money = inp.ctx.money
        totals = inp.facts.totals
        self.totals = totals
        lead = inp.at("lead_customer")
        self.lead_conv = lead.value if lead else None
        self.price = avg_price(inp)
        upsell = economics["upsell"]
        self.customer_value = upsell.get("ltv_with") or upsell.get("ltv_without") or self.price
        self.min_segment = inp.ctx.config.thresholds.min_segment
        self.out: list[Transition] = []

    def per_month(self, count: float, what: str) -> tuple[float, str]:
        value = count / self.months
        return value, f"{what} per month = {num(count)} / {self.months:.2f} months = {num(round(value, 2))}"

    def customer_worth(self, customers: float | None, how: str) -> Worth:
        revenue = None if customers is None or self.customer_value is None else customers * self.customer_value
        if revenue is not None:
            how += f"; revenue = customers × customer value {self.money(self.customer_value)}"
        return Worth(customers, revenue, how)

    def add(self, stage: int, metric: str, frm: str, to: str, measure: Measure | None, target: float,
            count: float, count_what: str, worth: Worth, **extra: Any) -> None:
        if measure is None:
            return
        per_month, how = self.per_month(count, count_what)
        self.out.append(Transition(stage, metric, frm, to, measure, target, per_month, how, worth, **extra))

    # -- the stages, from the end ----------------------------------------------------------------
    def referral(self) -> None:
        inp, r = self.inp, self.inp.facts.referral
        if not inp.role("referral_request") or not r.get("customers"):
            return
        after_ask = inp.at("ask_referral")
        p_refer = after_ask.value if after_ask else div(r["asked_referrers"], r["asked"])
        per_referrer = div(r["all_referred"], r["all_referrers"])
        referred = inp.at("lead_customer_by_referred", "referred")
        conv = referred.value if referred else self.lead_conv
        customers_per_referrer = None if per_referrer is None or conv is None else per_referrer * conv
        value = self._referral_value()
        chain = (f"each referrer brings {num(round(per_referrer or 0, 2))} referred leads, "
                 f"{pct(conv)} of whom buy, worth {self.money(value)} each")
        per_referrer_worth = Worth(customers_per_referrer,
                                   None if customers_per_referrer is None or value is None
                                   else customers_per_referrer * value, chain)
        per_ask = None if p_refer is None or customers_per_referrer is None else p_refer * customers_per_referrer
        self.add(7, "customer_referral_request", "customers", "asked for a referral",
                 _km(inp.at("customer_ask"), "customers", "were asked"), self.targets.customer_referral_request,
                 r["customers"], "customers", Worth(per_ask, None if per_ask is None or value is None
                                                    else per_ask * value,
                                                    f"{pct(p_refer)} of asked customers refer; {chain}"))
        self.add(7, "referral_request_to_referral", "customers asked for a referral", "referrers",
                 _km(after_ask, "asked customers", "referred someone"), self.targets.referral_request_to_referral,
                 r["asked"], "asked customers", per_referrer_worth)

    def _referral_value(self) -> float | None:
        r = self.inp.facts.referral
        if not self.inp.role("purchase_revenue"):
            return None
        return r.get("referred_ltv") if r.get("referred_customers") else r.get("customer_ltv")

    def upsell(self) -> None:
        inp, u = self.inp, self.inp.facts.upsell
        if not inp.role("upsell_offer") or not u.get("customers"):
            return
        offer = inp.at("offer_upsell")
        per_buyer = u.get("upsell_revenue_per_buyer") if inp.role("upsell_revenue") else None
        buys = offer.value if offer else div(u["offered_upsold"], u["offered"])
        self.add(6, "customer_upsell_offer", "customers", "offered an upsell",
                 _km(inp.at("customer_offer"), "customers", "were offered an upsell"),
                 self.targets.customer_upsell_offer, u["customers"], "customers",
                 Worth(buys, None if buys is None or per_buyer is None else buys * per_buyer,
                       f"{pct(buys)} of offered customers buy, {self.money(per_buyer)} each"),
                 unit="upsell buyers")
        self.add(6, "upsell_offer_to_purchase", "customers offered an upsell", "upsell buyers",
                 _km(offer, "offered customers", "bought"), self.targets.upsell_offer_to_purchase,
                 u["offered"], "offered customers",
                 Worth(1.0, per_buyer, f"one upsell buyer each, {self.money(per_buyer)} of upsell revenue"),
                 unit="upsell buyers")

    def delivery(self) -> None:
        inp, d = self.inp, self.inp.facts.delivery
        if not d.get("customers"):
            return
        price = self.price
        if inp.role("wow"):
            with_wow = Share(d["refunded_wow"], d["wow"])
            without = Share(d["refunded_no_wow"], d["customers"] - d["wow"])
            saved = (max(without.value - with_wow.value, 0.0)
                     if with_wow.value is not None and without.value is not None else None)
            self.add(5, "customer_wow", "customers", "given a wow touch",
                     _km(inp.at("customer_wow"), "customers", "got a wow touch"), self.targets.customer_wow,
                     d["customers"], "customers",
                     Worth(saved, None if saved is None or price is None else saved * price,
                           f"a wow touch cuts refunds from {pct(without.value)} to {pct(with_wow.value)}: "
                           f"{pct(saved)} of a customer kept each, at the average price {self.money(price)}"))
        if inp.role("refund") or inp.role("return_"):
            kept = Share(d["kept"], d["customers"])
            keep_worth = Worth(1.0, price, f"one customer kept each, at the average price {self.money(price)}")
            self.add(5, "customer_kept", "customers", "kept (no refund or return)",
                     _share(kept, "kept", "customers"), self.targets.customer_kept, d["customers"], "customers",
                     keep_worth)
            rows = [(r["product"], int(r["customers"]) - int(r["lost"]), int(r["customers"]))
                    for r in inp.facts.delivery_products]
            prices = {r["product"]: r["avg_price"] for r in inp.facts.price_by_product}
            for product, part, whole in rows:
                peers = Share(sum(p for name, p, _ in rows if name != product),
                              sum(w for name, _, w in rows if name != product))
                product_price = prices.get(product) or price
                self.add(5, "customer_kept", f"customers of {product}", "kept (no refund or return)",
                         _share(Share(part, whole), "kept", "customers"), self.targets.customer_kept, whole,
                         f"customers of {product}",
                         Worth(1.0, product_price, f"one customer kept each, at {self.money(product_price)}"),
                         segment={"dimension": "product", "value": product},
                         peers=_share(peers, "kept", "customers of other products"))

    def sales(self) -> None:
        inp = self.inp
        if not inp.role("sales_contact") or not self.totals.get("contacted"):
            return
        one = self.customer_worth(1.0, "one customer each")
        self.add(4, "sales_contact_to_customer", "leads in contact with sales", "customers",
                 _km(inp.at("contact_customer"), "contacted leads", "bought"), self.targets.sales_contact_to_customer,
                 self.totals["contacted"], "leads first contacted", one)
        contacted = {r["lead_type"]: r["contacted"] for r in inp.facts.lead_types}
        rows = inp.facts.survival.get("contact_customer_by_lead_type", [])
        for lead_type, curve in inp.curves.get("contact_customer_by_lead_type", {}).items():
            if curve.entrants < self.min_segment:
                continue
            peers = pooled(rows, lead_type).at(inp.horizon_months * MONTH_DAYS)
            self.add(4, "sales_contact_to_customer", f"{lead_type} leads in contact with sales", "customers",
                     _km(inp.at("contact_customer_by_lead_type", lead_type), "contacted leads", "bought"),
                     self.targets.sales_contact_to_customer, contacted.get(lead_type, 0),
                     f"{lead_type} leads contacted", one, segment={"dimension": "lead_type", "value": lead_type},
                     peers=_km(peers, "contacted leads of other types", "bought"))

    def followup(self) -> None:
        inp = self.inp
        if not (inp.role("optin") and inp.role("purchase")):
            return
        self.add(3, "lead_to_customer", "leads", "customers", _km(inp.at("lead_customer"), "leads", "bought"),
                 self.targets.lead_to_customer, self.totals.get("leads") or 0, "leads",
                 self.customer_worth(1.0, "one customer each"))

    def capture(self) -> None:
        inp = self.inp
        lead_worth = self.customer_worth(self.lead_conv, f"each lead buys with probability {pct(self.lead_conv)}")
        if inp.role("visit") and inp.role("optin") and self.totals.get("visitors"):
            self.add(2, "visitor_to_lead", "visitors", "leads",
                     _share(Share(min(self.totals["leads"], self.totals["visitors"]), self.totals["visitors"]),
                            "leads", "visitors"),
                     self.targets.visitor_to_lead, self.totals["visitors"], "visitors", lead_worth)
        captures = [r for r in inp.facts.captures if r["exposed"]]
        for row in captures:
            peers = Share(sum(r["optins"] for r in captures if r is not row),
                          sum(r["exposed"] for r in captures if r is not row))
            self.add(2, "optin_rate", f"visitors shown {row['capture']}", "leads",
                     _share(Share(min(row["optins"], row["exposed"]), row["exposed"]), "opt-ins", "visitors shown it"),
                     self.targets.visitor_to_lead, row["exposed"], f"visitors shown {row['capture']}", lead_worth,
                     segment={"dimension": "capture", "value": row["capture"]},
                     peers=_share(peers, "opt-ins", "visitors shown other captures"))
        if inp.role("purchase"):
            leads = {r["capture"]: r["leads"] for r in inp.facts.captures}
            self._lead_segments(2, "capture", "lead_customer_by_capture", leads)

    def traffic(self) -> None:
        inp = self.inp
        sources = inp.facts.sources
        if inp.role("visit_source") and inp.role("optin"):
            rows = [r for r in sources if r["visitors"]]
            lead_worth = self.customer_worth(self.lead_conv, f"each lead buys with probability {pct(self.lead_conv)}")
            for row in rows:
                peers = Share(sum(min(r["leads"], r["visitors"]) for r in rows if r is not row),
                              sum(r["visitors"] for r in rows if r is not row))
                self.add(1, "visitor_to_lead", f"visitors from {row['source']}", "leads",
                         _share(Share(min(row["leads"], row["visitors"]), row["visitors"]), "leads", "visitors"),
                         self.targets.visitor_to_lead, row["visitors"], f"visitors from {row['source']}", lead_worth,
                         segment={"dimension": "source", "value": row["source"]},
                         peers=_share(peers, "leads", "visitors of other sources"))
        if inp.role("purchase") and (inp.role("visit_source") or inp.role("optin_source")):
            self._lead_segments(1, "source", "lead_customer_by_source", {r["source"]: r["leads"] for r in sources})

    def _lead_segments(self, stage: int, dimension: str, curve_set: str, leads: dict[str, int]) -> None:
        rows = self.inp.facts.survival.get(curve_set, [])
        one = self.customer_worth(1.0, "one customer each")
        for name, curve in self.inp.curves.get(curve_set, {}).items():
            if curve.entrants < self.min_segment:  # too small to be judged on its own
                continue
            peers = pooled(rows, name).at(self.inp.horizon_months * MONTH_DAYS)
            label = f"leads from {name}" if dimension == "source" else f"leads from {dimension} {name}"
            self.add(stage, "lead_to_customer", label, "customers",
                     _km(self.inp.at(curve_set, name), "leads", "bought"), self.targets.lead_to_customer,
                     leads.get(name, 0), label, one, segment={"dimension": dimension, "value": name},
                     peers=_km(peers, f"leads from other {dimension}s", "bought"))


def transitions(inp: Inputs, economics: dict[str, Any]) -> list[Transition]:
    """Every measurable transition of the journey (and its segments), from the end backwards."""
    builder = _Builder(inp, economics)
    for stage in (builder.referral, builder.upsell, builder.delivery, builder.sales, builder.followup,
                  builder.capture, builder.traffic):
        stage()
    return builder.out


def _se(measure: Measure, rate: float) -> float:
    """The measure's standard error, at least the binomial one at ``rate`` (0 of 30 is not proof of 0%)."""
    return max(measure.se, math.sqrt(max(rate * (1 - rate), 0.0) / measure.n))


def is_leak(t: Transition, *, z: float, min_n: int) -> bool:
    """Significantly below target (and, for a segment, below its peers), on enough entrants."""
    m = t.measure
    if m.n < min_n or m.value >= t.target:
        return False
    se = _se(m, t.target)
    if se > 0 and (t.target - m.value) / se < z:
        return False
    if t.segment is not None:
        peers = t.peers
        if peers is None or peers.n < min_n or peers.value <= m.value:
            return False
        spread = math.sqrt(_se(m, peers.value) ** 2 + peers.se ** 2)
        if spread > 0 and (peers.value - m.value) / spread < z:
            return False
    return True


def rank(inp: Inputs, economics: dict[str, Any]) -> list[dict[str, Any]]:
    """The leaks of the audit document, ranked from the end of the journey backwards."""
    th = inp.ctx.config.thresholds
    totals = inp.facts.totals
    months = inp.per_month
    spend = totals.get("spend")
    revenue = totals.get("revenue")
    spend_pm = None if not spend else spend / months
    revenue_pm = None if not revenue or not inp.role("purchase_revenue") else revenue / months
    customers_pm = (totals.get("customers") or 0) / months
    money = inp.ctx.money
    found = []
    for t in transitions(inp, economics):
        if not is_leak(t, z=th.significance_z, min_n=th.min_segment):
            continue
        gap = t.target - t.measure.value
        units = t.per_month * gap
        customers = None if t.worth.customers is None else units * t.worth.customers
        lost_revenue = None if t.worth.revenue is None else units * t.worth.revenue
        wasted, wasted_how = _wasted(spend_pm, revenue_pm, lost_revenue, customers_pm, customers, money)
        how = (f"conversion: {t.measure.how}; gap = target {t.target:.4f} − {t.measure.value:.4f} = {gap:.4f}; "
               f"{t.per_month_how}; lost at '{t.to}' per month = {num(round(t.per_month, 2))} × {gap:.4f} = "
               f"{num(round(units, 2))}; worth: {t.worth.how}; {t.unit} lost per month = "
               + (f"{num(round(units, 2))} × {t.worth.customers:.4f} = {num(round(customers, 2))}"
                  if customers is not None else "unknown")
               + "; revenue lost per month = "
               + (f"{num(round(units, 2))} × {money(t.worth.revenue)} = {money(lost_revenue)}"
                  if lost_revenue is not None else "unknown (no revenue recorded)")
               + f"; {wasted_how}")
        if t.peers is not None:
            how += f"; peers: {t.peers.how}"
        found.append({
            "stage_id": t.stage_id, "from": t.frm, "to": t.to, "conversion": t.measure.value, "target": t.target,
            "gap": gap, "customers_lost_per_month": customers, "revenue_lost_per_month": lost_revenue,
            "promotion_spend_wasted_per_month": wasted, "how": how, "metric": t.metric, "segment": t.segment,
            "unit": t.unit, "stage": STAGE_NAMES[t.stage_id]})
    found.sort(key=lambda leak: (-leak["stage_id"], -(leak["revenue_lost_per_month"] or 0.0),
                                 -(leak["customers_lost_per_month"] or 0.0), leak["from"]))
    return [{"rank": index, **leak} for index, leak in enumerate(found, start=1)]


def _wasted(spend_pm: float | None, revenue_pm: float | None, lost_revenue: float | None, customers_pm: float,
            lost_customers: float | None, money: Any) -> tuple[float | None, str]:
    if spend_pm is None:
        return None, "promotion spend wasted: unknown (no spend recorded; import it with --spend)"
    if revenue_pm is not None and lost_revenue is not None:
        wasted = spend_pm * lost_revenue / (revenue_pm + lost_revenue)
        return wasted, (f"promotion spend wasted per month = spend per month × revenue lost / (revenue per month + "
                        f"revenue lost) = {money(spend_pm)} × {money(lost_revenue)} / ({money(revenue_pm)} + "
                        f"{money(lost_revenue)}) = {money(wasted)}")
    if lost_customers is not None and customers_pm + lost_customers > 0:
        wasted = spend_pm * lost_customers / (customers_pm + lost_customers)
        return wasted, (f"promotion spend wasted per month = spend per month × customers lost / (new customers per "
                        f"month + customers lost) = {money(spend_pm)} × {num(round(lost_customers, 2))} / "
                        f"({num(round(customers_pm, 2))} + {num(round(lost_customers, 2))}) = {money(wasted)}")
    return None, "promotion spend wasted: unknown (what this leak loses has no known value)"


def fix_first(leaks: list[dict[str, Any]], inp: Inputs) -> str:
    """One or two sentences: what to fix first and why."""
    money = inp.ctx.money
    if not leaks:
        return ("No transition of the journey is significantly below its target. Keep the targets in journey.yaml "
                "honest, and answer the questions marked unknown to see the stages not measured yet.")
    top = leaks[0]
    lost = []
    if top["customers_lost_per_month"] is not None:
        lost.append(f"about {num(round(top['customers_lost_per_month'], 1))} {top['unit']}")
    if top["revenue_lost_per_month"] is not None:
        lost.append(f"{money(top['revenue_lost_per_month'])}")
    text = (f"Fix first: {top['stage']} — {top['from']} → {top['to']} is {pct(top['conversion'])} against a target "
            f"of {pct(top['target'])}" + (f", losing {' and '.join(lost)} a month" if lost else "") + ".")
    wasted = top["promotion_spend_wasted_per_month"]
    reason = "It is the leak furthest down the journey, so every lead bought upstream runs into it"
    if wasted is not None:
        reason += f": {money(wasted)} of each month's promotion spend pays for buyers lost here"
    if len(leaks) > 1:
        nxt = leaks[1]
        reason += (f"; fix it before buying more traffic (next: {nxt['stage']}, {nxt['from']} → {nxt['to']} at "
                   f"{pct(nxt['conversion'])} vs {pct(nxt['target'])}).")
    else:
        reason += "; fix it before buying more traffic."
    return f"{text} {reason}"
