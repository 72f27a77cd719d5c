"""Stage 7, referral: are customers asked and do they refer, referral conversion, value of a referral."""

from __future__ import annotations

from typing import Any

from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import QUESTIONS, Question, Stage, answered, num, pct, unknown
from buyerjourney.analysis.rates import Share, div


def analyse(inp: Inputs, economics: dict[str, Any]) -> Stage:
    """The three questions of stage 7 (7.3 reads the referral block of the economics)."""
    return Stage(7, (system(inp), conversion(inp), value(inp, economics["referral"])))


def _track(inp: Inputs) -> str:
    return (f"{inp.names('referral_request')} events when you ask a customer for a referral, and a "
            f"{inp.prop('referrer')} property (the referrer's id) on the {inp.names('referred_signup')} of the "
            "person they refer")


def system(inp: Inputs) -> Question:
    if not (inp.role("referral_request") or inp.role("referred")):
        return unknown("7.1", _track(inp), why="no referral request and no referred signup is recorded.")
    r = inp.facts.referral
    asked = Share(r["asked"], r["customers"])
    referrers = Share(r["referrers"], r["customers"])
    per_referrer = div(r["all_referred"], r["all_referrers"])
    est = inp.at("customer_ask")
    answer = (f"{pct(asked.value)} of the period's customers were asked for a referral and {pct(referrers.value)} "
              f"referred someone; {num(r['referred_leads'])} referred leads joined in the period"
              + (f", {num(round(per_referrer, 2))} per referring customer." if per_referrer else "."))
    how = (f"asked = {asked.how('customers with a referral request', 'customers of the period')}; referred "
           f"someone = {referrers.how('customers named as referrer', 'customers')}; referred leads = "
           f"{inp.names('referred_signup')} carrying {inp.prop('referrer')} in the period; per referrer = "
           f"{num(r['all_referred'])} referred / {num(r['all_referrers'])} referrers (all time)")
    if est:
        how += f"; asked within {inp.horizon_months} months of purchase: {est.how('customers', 'were asked')}"
    track = None if inp.role("referral_request") else f"{inp.names('referral_request')} events"
    value_ = {"customers": r["customers"], "asked": r["asked"], "asked_share": asked.value,
              "asked_within_horizon": est.value if est else None, "referrers": r["referrers"],
              "referrer_share": referrers.value, "referred_leads": r["referred_leads"],
              "referrals_per_referrer": per_referrer}
    return answered("7.1", answer, value_, how, track=track)


def conversion(inp: Inputs) -> Question:
    if not inp.role("referred"):
        return unknown("7.2", f"a {inp.prop('referrer')} property on the {inp.names('referred_signup')} of referred "
                              "people", why="no referred signup is recorded.")
    if not inp.role("purchase"):
        return unknown("7.2", f"{inp.names('purchase')} events", why="there are no purchases.")
    referred = inp.at("lead_customer_by_referred", "referred")
    others = inp.at("lead_customer_by_referred", "not referred")
    horizon = inp.horizon_months
    r = inp.facts.referral
    to_date = Share(r["referred_converted"], r["referred_leads"])
    if referred is None:
        answer = f"{to_date.how('bought', 'referred leads of the period')} so far (too recent for the horizon)."
    else:
        answer = f"{pct(referred.value)} of referred leads buy within {horizon} months"
        answer += f", against {pct(others.value)} of other leads." if others else "."
    how = f"to date = {to_date.how('bought', 'referred leads of the period')}"
    if referred:
        how += f"; referred, within {horizon} months: {referred.how('referred leads', 'bought')}"
    if others:
        how += f"; other leads: {others.how('leads', 'bought')}"
    value_ = {"referred_leads": r["referred_leads"], "conversion_to_date": to_date.value,
              "conversion": referred.value if referred else None,
              "other_leads_conversion": others.value if others else None, "horizon_months": horizon}
    return answered("7.2", answer, value_, how)


def value(inp: Inputs, referral: dict[str, Any]) -> Question:
    if not inp.role("referred"):
        return unknown("7.3", f"a {inp.prop('referrer')} property on the {inp.names('referred_signup')} of referred "
                              "people", why="no referred signup is recorded.")
    if not inp.role("purchase_revenue"):
        return unknown("7.3", f"a {inp.prop('revenue')} property on {inp.names('purchase')} events",
                       why="purchases carry no revenue.")
    if referral["max_spend_per_referral"] is None:
        why = referral["how"].removeprefix("unknown: ")
        return Question("7.3", QUESTIONS["7.3"], "unknown",
                        f"Unknown: {why}. Keep recording referred signups; the value appears once referred leads "
                        f"have been followed {inp.horizon_months} months (or lower conversion_horizon_months).",
                        None, "not computed: " + why, "referred signups followed over the conversion horizon")
    money = inp.ctx.money
    answer = (f"A referred customer is worth {money(referral['value'])}; {pct(referral['conversion'])} of referrals "
              f"buy, so a referral is worth up to {money(referral['max_spend_per_referral'])} "
              f"({money(referral['max_spend_at_margin'])} at your gross margin): the most to spend for one.")
    return answered("7.3", answer, {k: referral[k] for k in ("value", "conversion", "max_spend_per_referral",
                                                            "max_spend_at_margin")}, referral["how"])
