"""The audit's only contact with the store: DuckDB SQL that turns events into small aggregate tables.

Three scratch tables (TEMP, dropped at the end) are built once per audit, each in one pass:

- ``_bj_visits``: visit events with their source, capture and product (JSON parsed once);
- ``_bj_acts``: the other role events (opt-in, sales contact, purchase, ...), a flag per role;
- ``_bj_ent``: one row per entity: first opt-in, first purchase, first wow touch, ... and its
  attributed source (first touch: the earliest visit or opt-in that carries one).

Every figure the analysis uses is then a GROUP BY over those tables, returned as a few rows. Event
names and property names come from the journey config and travel only as query parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from buyerjourney.config import JourneyConfig

Rows = list[dict[str, Any]]
_PARAM = re.compile(r"\$(\w+)")
SCRATCH = ("_bj_visits", "_bj_acts", "_bj_ent", "_bj_ref")
#: Flags of ``_bj_acts``: column -> role in :class:`~buyerjourney.config.EventRoles`.
ACT_FLAGS = {"is_optin": "optin", "is_contact": "sales_contact", "is_purchase": "purchase", "is_refund": "refund",
             "is_return": "return_", "is_complaint": "complaint", "is_wow": "wow", "is_testimonial": "testimonial",
             "is_offer": "upsell_offer", "is_upsell": "upsell_purchase", "is_ask": "referral_request",
             "is_signup": "referred_signup"}
#: Survival sets: name -> (entry, conversion, extra condition); ``x`` means columns ``x_ts`` and ``x_day``.
SURVIVAL = {
    "lead_customer": ("optin", "purchase", ""),
    "contact_customer": ("contact", "purchase", "AND (purchase_ts IS NULL OR purchase_ts >= contact_ts)"),
    "customer_wow": ("purchase", "wow", ""),
    "customer_offer": ("purchase", "offer", ""),
    "customer_upsell": ("purchase", "upsell", ""),
    "offer_upsell": ("offer", "upsell", "AND (upsell_ts IS NULL OR upsell_ts >= offer_ts)"),
    "customer_ask": ("purchase", "ask", ""),
    "ask_referral": ("ask", "first_referral", "AND (first_referral_ts IS NULL OR first_referral_ts >= ask_ts)"),
}
#: Groupings of the lead -> customer survival set: name -> (group expression, condition).
LEAD_GROUPS = {
    "source": ("source", ""),
    "capture": ("optin_capture", "AND optin_capture IS NOT NULL"),
    "lead_type": ("entry_lead_type", "AND entry_lead_type IS NOT NULL"),
    "referred": ("CASE WHEN referrer IS NULL THEN 'not referred' ELSE 'referred' END", ""),
    "cohort": ("optin_month", ""),
}


@dataclass
class Facts:
    """Small aggregates of the store, the only input of the pure analysis functions."""

    roles: dict[str, int] = field(default_factory=dict)  # events per role, and per property present
    traffic_by_month: Rows = field(default_factory=list)
    sources: Rows = field(default_factory=list)
    leads_by_month_source: Rows = field(default_factory=list)
    captures: Rows = field(default_factory=list)
    capture_products: Rows = field(default_factory=list)
    survival: dict[str, Rows] = field(default_factory=dict)
    cycle: Rows = field(default_factory=list)
    cycle_days: Rows = field(default_factory=list)
    prices: dict[str, Any] = field(default_factory=dict)
    price_by_product: Rows = field(default_factory=list)
    currencies: Rows = field(default_factory=list)
    delivery: dict[str, Any] = field(default_factory=dict)
    delivery_products: Rows = field(default_factory=list)
    wow_kinds: Rows = field(default_factory=list)
    offers: Rows = field(default_factory=list)
    upsells: Rows = field(default_factory=list)
    second_products: Rows = field(default_factory=list)
    upsell: dict[str, Any] = field(default_factory=dict)
    referral: dict[str, Any] = field(default_factory=dict)
    lead_types: Rows = field(default_factory=list)
    flows_by_month: Rows = field(default_factory=list)
    outcomes: Rows = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)


class Query:
    """Runs parameterised SQL on a store and returns rows as dicts (``store.query`` gives Arrow)."""

    def __init__(self, store: Any, params: dict[str, Any]) -> None:
        self.store = store
        self.params = params

    def rows(self, sql: str, **extra: Any) -> Rows:
        values = {**self.params, **extra}
        params = {name: values[name] for name in set(_PARAM.findall(sql))}
        return self.store.query(sql, params).to_pylist()

    def run(self, sql: str) -> None:
        """A statement with no result (scratch tables)."""
        self.store.run(sql, {name: self.params[name] for name in set(_PARAM.findall(sql))})

    def one(self, sql: str) -> dict[str, Any]:
        rows = self.rows(sql)
        return rows[0] if rows else {}


def base_params(config: JourneyConfig, as_of: datetime, start: datetime) -> dict[str, Any]:
    """Query parameters: role event lists, property names, JSON shapes and the period bounds."""
    events, props = config.events, config.properties
    params: dict[str, Any] = {"as_of": as_of, "start": start, "start_date": start.date(), "end_date": as_of.date(),
                              "as_of_day": int(as_of.timestamp() // 86400), "visit": list(events.visit),
                              "nurture": list(events.nurture)}
    for flag, role in ACT_FLAGS.items():
        params[flag] = list(getattr(events, role))
    params["acts"] = sorted({name for role in ACT_FLAGS.values() for name in getattr(events, role)})
    for key in ("source", "capture", "product", "lead_type", "revenue", "currency", "referrer", "wow_kind", "outcome"):
        params[f"k_{key}"] = getattr(props, key)
    params["shape_visit"] = json.dumps({getattr(props, k): "VARCHAR" for k in ("source", "capture", "product")})
    params["shape_acts"] = json.dumps({params[f"k_{k}"]: "VARCHAR" for k in (
        "source", "capture", "product", "lead_type", "revenue", "currency", "referrer", "wow_kind", "outcome")})
    return params


def _extract(key: str) -> str:
    return f"nullif(struct_extract(p, $k_{key}), '')"


def _day(column: str) -> str:
    """Whole UTC days since the epoch: differences of these are calendar days (cheaper than date_diff)."""
    return f"floor(epoch_us({column}) / 86400000000)::BIGINT"


def keys_of(names: str, column: str = "event_key") -> str:
    """SQL: ``column`` is the key of one of the event names in the list parameter ``names``.

    Reads of the narrow ``event_index`` find an event's entity without joining every raw event to its id
    (the ``events`` view does that join, which costs more than the index read on big stores).
    """
    return (f"list_contains((SELECT list(event_key) FROM event_names WHERE list_contains({names}, event)), "
            f"{column})")


NURTURE_KEYS = keys_of("$nurture")

#: Timestamps of ``_bj_ent`` that also get a ``*_day`` column.
DAY_COLUMNS = ("optin", "contact", "purchase", "wow", "offer", "upsell", "ask")


def build_scratch(q: Query) -> None:
    """Build the three scratch tables (and the per-referrer table) for this audit."""
    q.run(f"""
        CREATE OR REPLACE TEMP TABLE _bj_visits AS
        SELECT entity_key, ts, date_trunc('month', ts)::DATE AS month, {_extract('source')} AS source,
               {_extract('capture')} AS capture, {_extract('product')} AS product
        FROM (SELECT i.entity_key, i.ts, json_transform(r.properties, $shape_visit) AS p
              FROM event_index i JOIN events_raw r ON r.rowid = i.raw_row
              WHERE {keys_of('$visit', 'i.event_key')} AND i.ts <= $as_of)""")
    flags = ",\n".join(f"list_contains(${flag}, event) AS {flag}" for flag in ACT_FLAGS)
    q.run(f"""
        CREATE OR REPLACE TEMP TABLE _bj_acts AS
        SELECT entity_key, entity_id, ts, {flags},
               {_extract('source')} AS source, {_extract('capture')} AS capture, {_extract('product')} AS product,
               {_extract('lead_type')} AS lead_type, TRY_CAST({_extract('revenue')} AS DOUBLE) AS revenue,
               upper({_extract('currency')}) AS currency, {_extract('referrer')} AS referrer,
               {_extract('wow_kind')} AS kind, {_extract('outcome')} AS outcome
        FROM (SELECT entity_key, entity_id, ts, event, json_transform(properties, $shape_acts) AS p FROM events
              WHERE list_contains($acts, event) AND ts <= $as_of)""")
    days = ", ".join(f"{_day(f'a.{name}_ts')} AS {name}_day" for name in DAY_COLUMNS)
    q.run(f"""
        CREATE OR REPLACE TEMP TABLE _bj_ent AS
        WITH a AS (
            SELECT entity_key, any_value(entity_id) AS entity_id,
                min(ts) FILTER (WHERE is_optin) AS optin_ts,
                arg_min(source, ts) FILTER (WHERE is_optin AND source IS NOT NULL) AS optin_source,
                arg_min(capture, ts) FILTER (WHERE is_optin AND capture IS NOT NULL) AS optin_capture,
                arg_min(product, ts) FILTER (WHERE is_optin AND product IS NOT NULL) AS optin_product,
                arg_min(lead_type, ts) FILTER (WHERE (is_optin OR is_contact) AND lead_type IS NOT NULL)
                    AS entry_lead_type,
                min(ts) FILTER (WHERE is_signup AND referrer IS NOT NULL) AS referred_ts,
                arg_min(referrer, ts) FILTER (WHERE is_signup AND referrer IS NOT NULL) AS referrer,
                min(ts) FILTER (WHERE is_contact) AS contact_ts,
                min(ts) FILTER (WHERE is_purchase) AS purchase_ts,
                arg_min(revenue, ts) FILTER (WHERE is_purchase) AS first_price,
                arg_min(product, ts) FILTER (WHERE is_purchase) AS first_product,
                arg_min(lead_type, ts) FILTER (WHERE is_purchase AND lead_type IS NOT NULL) AS purchase_lead_type,
                count(*) FILTER (WHERE is_purchase) AS purchases,
                coalesce(sum(revenue) FILTER (WHERE is_purchase), 0) AS purchase_revenue,
                min(ts) FILTER (WHERE is_refund) AS refund_ts,
                min(ts) FILTER (WHERE is_return) AS return_ts,
                min(ts) FILTER (WHERE is_complaint) AS complaint_ts,
                min(ts) FILTER (WHERE is_wow) AS wow_ts,
                arg_min(kind, ts) FILTER (WHERE is_wow AND kind IS NOT NULL) AS wow_kind,
                min(ts) FILTER (WHERE is_testimonial) AS testimonial_ts,
                min(ts) FILTER (WHERE is_offer) AS offer_ts,
                min(ts) FILTER (WHERE is_upsell) AS upsell_ts,
                count(*) FILTER (WHERE is_upsell) AS upsells,
                coalesce(sum(revenue) FILTER (WHERE is_upsell), 0) AS upsell_revenue,
                min(ts) FILTER (WHERE is_ask) AS ask_ts
            FROM _bj_acts GROUP BY entity_key),
        t AS (
            SELECT entity_key, min(ts) AS touch_ts, arg_min(source, ts) AS touch_source FROM _bj_visits
            WHERE source IS NOT NULL AND entity_key IN (SELECT entity_key FROM a) GROUP BY entity_key),
        n AS (
            SELECT DISTINCT entity_key FROM event_index WHERE {NURTURE_KEYS} AND ts <= $as_of)
        SELECT a.*, {days}, strftime(a.optin_ts, '%Y-%m') AS optin_month,
               CASE WHEN a.optin_source IS NOT NULL AND (t.touch_ts IS NULL OR a.optin_ts < t.touch_ts)
                    THEN a.optin_source ELSE coalesce(t.touch_source, a.optin_source, '(empty)') END AS source,
               coalesce(a.entry_lead_type, a.purchase_lead_type, '(empty)') AS any_lead_type,
               n.entity_key IS NOT NULL AS nurtured
        FROM a LEFT JOIN t ON t.entity_key = a.entity_key LEFT JOIN n ON n.entity_key = a.entity_key""")
    q.run(f"""
        CREATE OR REPLACE TEMP TABLE _bj_ref AS
        SELECT referrer, min(referred_ts) AS first_referral_ts, {_day('min(referred_ts)')} AS first_referral_day,
               count(*) AS referred, count(purchase_ts) AS referred_customers
        FROM _bj_ent WHERE referrer IS NOT NULL GROUP BY referrer""")


def drop_scratch(q: Query) -> None:
    """Drop the scratch tables."""
    for name in SCRATCH:
        q.run(f"DROP TABLE IF EXISTS {name}")


def _survival_sql(entry: str, end: str, group: str, condition: str) -> str:
    """Rows ``(grp, days, observed, n)``: calendar days from ``entry`` to ``end`` (or to as of: censored)."""
    joined = "first_referral" in f"{entry} {end} {condition}"
    source = ("(SELECT e.*, r.first_referral_ts, r.first_referral_day FROM _bj_ent e "
              "LEFT JOIN _bj_ref r ON r.referrer = e.entity_id)" if joined else "_bj_ent")
    return f"""
        SELECT {group} AS grp, greatest(coalesce({end}_day, $as_of_day) - {entry}_day, 0) AS days,
               ({end}_day IS NOT NULL) AS observed, count(*) AS n
        FROM {source} WHERE {entry}_day IS NOT NULL {condition}
        GROUP BY ALL ORDER BY grp, days"""


def gather(store: Any, config: JourneyConfig, as_of: datetime, start: datetime,
           step: Callable[[str], None] | None = None) -> Facts:
    """Build the scratch tables, read every aggregate the audit needs, drop the scratch tables."""
    say = step or (lambda _name: None)
    q = Query(store, base_params(config, as_of, start))
    facts = Facts()
    say("reading events (visits, opt-ins, purchases, ...)")
    build_scratch(q)
    try:
        say("traffic and lead capture")
        _traffic(q, facts)
        _capture(q, facts)
        say("conversion curves (Kaplan–Meier inputs)")
        for name, (entry, end, condition) in SURVIVAL.items():
            facts.survival[name] = q.rows(_survival_sql(entry, end, "'all'", condition))
        for name, (group, condition) in LEAD_GROUPS.items():
            facts.survival[f"lead_customer_by_{name}"] = q.rows(_survival_sql("optin", "purchase", group, condition))
        facts.survival["contact_customer_by_lead_type"] = q.rows(_survival_sql(
            "contact", "purchase", "coalesce(entry_lead_type, '(empty)')", SURVIVAL["contact_customer"][2]))
        say("sales, prices and cycles")
        _sales(q, facts)
        say("delivery, upsell and referral")
        _delivery(q, facts)
        _upsell(q, facts)
        _referral(q, facts)
        _totals(q, facts)
    finally:
        drop_scratch(q)
    return facts


def _traffic(q: Query, facts: Facts) -> None:
    facts.roles = q.one(f"""
        SELECT (SELECT count(*) FROM _bj_visits) AS visit,
               (SELECT count(source) FROM _bj_visits) AS visit_source,
               (SELECT count(capture) FROM _bj_visits) AS visit_capture,
               (SELECT count(*) FROM event_index WHERE {NURTURE_KEYS} AND ts <= $as_of) AS nurture,
               {", ".join(f"count(*) FILTER (WHERE {flag}) AS {role}" for flag, role in ACT_FLAGS.items())},
               count(*) FILTER (WHERE is_optin AND source IS NOT NULL) AS optin_source,
               count(*) FILTER (WHERE is_optin AND capture IS NOT NULL) AS optin_capture,
               count(*) FILTER (WHERE (is_optin OR is_contact OR is_purchase) AND lead_type IS NOT NULL) AS lead_type,
               count(*) FILTER (WHERE (is_optin OR is_contact) AND lead_type IS NOT NULL) AS entry_lead_type,
               count(*) FILTER (WHERE is_purchase AND revenue IS NOT NULL) AS purchase_revenue,
               count(*) FILTER (WHERE is_upsell AND revenue IS NOT NULL) AS upsell_revenue,
               count(*) FILTER (WHERE is_signup AND referrer IS NOT NULL) AS referred,
               count(*) FILTER (WHERE is_contact AND outcome IS NOT NULL) AS contact_outcome,
               (SELECT count(*) FROM spend WHERE date <= $end_date) AS spend_rows
        FROM _bj_acts""")
    facts.traffic_by_month = _months(q.rows("""
        SELECT month, coalesce(source, '(empty)') AS source, count(DISTINCT entity_key) AS visitors
        FROM _bj_visits WHERE ts >= $start GROUP BY ALL ORDER BY month, source"""))
    visitors = {row["source"]: row["visitors"] for row in q.rows("""
        SELECT coalesce(source, '(empty)') AS source, count(DISTINCT entity_key) AS visitors
        FROM _bj_visits WHERE ts >= $start GROUP BY ALL""")}
    sources = q.rows("""
        WITH led AS (
            SELECT source, count(*) FILTER (WHERE optin_ts >= $start) AS leads,
                   count(*) FILTER (WHERE optin_ts >= $start AND purchase_ts IS NOT NULL) AS converted_leads,
                   count(*) FILTER (WHERE purchase_ts >= $start) AS customers
            FROM _bj_ent GROUP BY source),
        rev AS (
            SELECT e.source, sum(a.revenue) AS revenue FROM _bj_acts a JOIN _bj_ent e ON e.entity_key = a.entity_key
            WHERE (a.is_purchase OR a.is_upsell) AND a.ts >= $start GROUP BY ALL),
        sp AS (
            SELECT source, sum(amount) AS spend FROM spend
            WHERE date >= $start_date AND date <= $end_date GROUP BY source),
        vis AS (SELECT unnest($sources) AS source)
        SELECT source, coalesce(led.leads, 0) AS leads, coalesce(led.converted_leads, 0) AS converted_leads,
               coalesce(led.customers, 0) AS customers, rev.revenue, sp.spend
        FROM vis FULL JOIN led USING (source) FULL JOIN rev USING (source) FULL JOIN sp USING (source)""",
        sources=sorted(visitors))
    rows = [{"source": r["source"], "visitors": visitors.get(r["source"], 0), **{k: v for k, v in r.items()
                                                                               if k != "source"}}
            for r in sources]
    facts.sources = sorted((r for r in rows if r["visitors"] + r["leads"] + r["customers"] or r["spend"] is not None),
                           key=lambda r: (-r["visitors"], -r["leads"], r["source"]))
    facts.flows_by_month = q.rows("""
        WITH l AS (SELECT optin_month AS month, count(*) AS leads FROM _bj_ent WHERE optin_ts >= $start GROUP BY ALL),
        c AS (SELECT strftime(purchase_ts, '%Y-%m') AS month, count(*) AS customers FROM _bj_ent
              WHERE purchase_ts >= $start GROUP BY ALL),
        r AS (SELECT strftime(ts, '%Y-%m') AS month, sum(revenue) AS revenue FROM _bj_acts
              WHERE (is_purchase OR is_upsell) AND ts >= $start GROUP BY ALL)
        SELECT month, coalesce(leads, 0) AS leads, coalesce(customers, 0) AS customers, revenue
        FROM l FULL JOIN c USING (month) FULL JOIN r USING (month) ORDER BY month""")
    facts.leads_by_month_source = q.rows("""
        SELECT optin_month AS month, source, count(*) AS leads
        FROM _bj_ent WHERE optin_ts >= $start GROUP BY ALL ORDER BY month, source""")


def _months(rows: Rows) -> Rows:
    """``month`` (a date) as ``YYYY-MM``."""
    return [{**row, "month": row["month"].strftime("%Y-%m")} for row in rows]


def _capture(q: Query, facts: Facts) -> None:
    facts.captures = q.rows("""
        WITH ex AS (SELECT capture, count(DISTINCT entity_key) AS exposed FROM _bj_visits
                    WHERE ts >= $start AND capture IS NOT NULL GROUP BY ALL),
        op AS (SELECT capture, count(DISTINCT entity_key) AS optins FROM _bj_acts
               WHERE is_optin AND ts >= $start AND capture IS NOT NULL GROUP BY ALL),
        ld AS (SELECT optin_capture AS capture, count(*) AS leads, count(purchase_ts) AS converted_leads
               FROM _bj_ent WHERE optin_ts >= $start AND optin_capture IS NOT NULL GROUP BY ALL)
        SELECT capture, coalesce(exposed, 0) AS exposed, coalesce(optins, 0) AS optins,
               coalesce(leads, 0) AS leads, coalesce(converted_leads, 0) AS converted_leads
        FROM ex FULL JOIN op USING (capture) FULL JOIN ld USING (capture) ORDER BY capture""")
    facts.capture_products = q.rows("""
        WITH ex AS (SELECT coalesce(product, '(any product)') AS product, capture,
                           count(DISTINCT entity_key) AS exposed
                    FROM _bj_visits WHERE capture IS NOT NULL AND ts >= $start GROUP BY ALL),
        op AS (SELECT coalesce(product, '(any product)') AS product, capture, count(DISTINCT entity_key) AS optins
               FROM _bj_acts WHERE is_optin AND capture IS NOT NULL AND ts >= $start GROUP BY ALL)
        SELECT product, capture, coalesce(optins, 0) AS optins, coalesce(exposed, 0) AS exposed
        FROM ex FULL JOIN op USING (product, capture) ORDER BY product, capture""")


def _sales(q: Query, facts: Facts) -> None:
    facts.cycle = q.rows("""
        SELECT CASE WHEN grouping(any_lead_type) = 1 THEN NULL ELSE any_lead_type END AS lead_type,
               count(*) AS n, quantile_cont(d, 0.5) AS median, avg(d) AS mean, min(d) AS min, max(d) AS max
        FROM (SELECT any_lead_type, purchase_day - optin_day AS d FROM _bj_ent
              WHERE purchase_ts >= $start AND optin_ts IS NOT NULL)
        GROUP BY GROUPING SETS ((any_lead_type), ()) ORDER BY n DESC, lead_type""")
    facts.cycle_days = q.rows("""
        SELECT purchase_day - optin_day AS days, count(*) AS n FROM _bj_ent
        WHERE purchase_ts >= $start AND optin_ts IS NOT NULL GROUP BY ALL ORDER BY days""")
    facts.prices = q.one("""
        SELECT count(*) AS purchases, count(revenue) AS with_revenue, sum(revenue) AS revenue,
               avg(revenue) AS avg_price, count(DISTINCT entity_key) AS buyers
        FROM _bj_acts WHERE is_purchase AND ts >= $start""")
    facts.price_by_product = q.rows("""
        SELECT coalesce(product, '(none)') AS product, count(*) AS purchases, avg(revenue) AS avg_price,
               sum(revenue) AS revenue
        FROM _bj_acts WHERE is_purchase AND ts >= $start GROUP BY ALL ORDER BY purchases DESC, product""")
    facts.currencies = q.rows("""
        SELECT currency, count(*) AS n FROM _bj_acts WHERE (is_purchase OR is_upsell) AND currency IS NOT NULL
        GROUP BY ALL ORDER BY n DESC""")
    facts.lead_types = q.rows("""
        SELECT lead_type, sum(leads)::BIGINT AS leads, sum(contacted)::BIGINT AS contacted,
               sum(converted_leads)::BIGINT AS converted_leads, sum(customers)::BIGINT AS customers
        FROM (SELECT coalesce(entry_lead_type, '(empty)') AS lead_type, count(*) AS leads,
                     count(contact_ts) AS contacted, count(purchase_ts) AS converted_leads, 0 AS customers
              FROM _bj_ent WHERE optin_ts >= $start GROUP BY ALL
              UNION ALL
              SELECT any_lead_type, 0, 0, 0, count(*) FROM _bj_ent WHERE purchase_ts >= $start GROUP BY ALL)
        GROUP BY lead_type ORDER BY leads DESC, customers DESC, lead_type""")
    facts.outcomes = q.rows("""
        SELECT coalesce(e.entry_lead_type, a.lead_type, '(empty)') AS lead_type,
               coalesce(a.outcome, '(none)') AS outcome, count(*) AS contacts
        FROM _bj_acts a JOIN _bj_ent e ON e.entity_key = a.entity_key
        WHERE a.is_contact AND a.ts >= $start GROUP BY ALL ORDER BY lead_type, contacts DESC""")


def _delivery(q: Query, facts: Facts) -> None:
    facts.delivery = q.one("""
        SELECT count(*) AS customers,
               count(*) FILTER (WHERE refund_ts IS NULL AND return_ts IS NULL) AS kept,
               count(refund_ts) AS refunded, count(return_ts) AS returned, count(complaint_ts) AS complained,
               count(wow_ts) AS wow, count(testimonial_ts) AS testimonials,
               count(*) FILTER (WHERE wow_ts IS NOT NULL AND refund_ts IS NOT NULL) AS refunded_wow,
               count(*) FILTER (WHERE wow_ts IS NULL AND refund_ts IS NOT NULL) AS refunded_no_wow,
               count(*) FILTER (WHERE wow_ts IS NOT NULL AND testimonial_ts IS NOT NULL) AS testimonials_wow,
               count(*) FILTER (WHERE wow_ts IS NULL AND testimonial_ts IS NOT NULL) AS testimonials_no_wow
        FROM _bj_ent WHERE purchase_ts >= $start""")
    facts.delivery_products = q.rows("""
        WITH buys AS (SELECT DISTINCT entity_key, coalesce(product, '(none)') AS product FROM _bj_acts
                      WHERE is_purchase AND ts >= $start),
        issues AS (SELECT a.entity_key, coalesce(a.product, e.first_product, '(none)') AS product,
                          bool_or(a.is_refund) AS refund, bool_or(a.is_return) AS ret,
                          bool_or(a.is_complaint) AS complaint
                   FROM _bj_acts a JOIN _bj_ent e ON e.entity_key = a.entity_key
                   WHERE a.is_refund OR a.is_return OR a.is_complaint GROUP BY ALL)
        SELECT b.product, count(*) AS customers, count(*) FILTER (WHERE i.refund) AS refunded,
               count(*) FILTER (WHERE i.ret) AS returned, count(*) FILTER (WHERE i.complaint) AS complained,
               count(*) FILTER (WHERE i.refund OR i.ret) AS lost
        FROM buys b LEFT JOIN issues i ON i.entity_key = b.entity_key AND i.product = b.product
        GROUP BY b.product ORDER BY customers DESC, b.product""")
    facts.wow_kinds = q.rows("""
        SELECT coalesce(wow_kind, '(no kind)') AS kind, count(*) AS customers FROM _bj_ent
        WHERE purchase_ts >= $start AND wow_ts IS NOT NULL GROUP BY ALL ORDER BY customers DESC, kind""")


def _upsell(q: Query, facts: Facts) -> None:
    facts.offers = q.rows("""
        SELECT coalesce(product, '(none)') AS product, count(*) AS offers, count(DISTINCT entity_key) AS customers
        FROM _bj_acts WHERE is_offer AND ts >= $start GROUP BY ALL ORDER BY offers DESC, product""")
    facts.upsells = q.rows("""
        SELECT coalesce(product, '(none)') AS product, count(*) AS purchases, count(DISTINCT entity_key) AS buyers,
               sum(revenue) AS revenue, avg(revenue) AS avg_price
        FROM _bj_acts WHERE is_upsell AND ts >= $start GROUP BY ALL ORDER BY purchases DESC, product""")
    facts.second_products = q.rows("""
        SELECT coalesce(product, '(none)') AS product, count(*) AS customers FROM (
            SELECT product, ts, row_number() OVER (PARTITION BY entity_key ORDER BY ts, is_upsell) AS nth
            FROM _bj_acts WHERE is_purchase OR is_upsell)
        WHERE nth = 2 AND ts >= $start GROUP BY ALL ORDER BY customers DESC, product""")
    facts.upsell = q.one("""
        SELECT count(*) FILTER (WHERE purchase_ts >= $start) AS customers,
               count(*) FILTER (WHERE purchase_ts >= $start AND offer_ts IS NOT NULL) AS offered,
               count(*) FILTER (WHERE purchase_ts >= $start AND upsell_ts IS NOT NULL) AS upsold,
               count(*) FILTER (WHERE purchase_ts >= $start AND offer_ts IS NOT NULL AND upsell_ts IS NOT NULL)
                   AS offered_upsold,
               avg(purchase_revenue) FILTER (WHERE purchase_ts IS NOT NULL) AS main_revenue_per_customer,
               count(*) FILTER (WHERE purchase_ts IS NOT NULL) AS all_customers,
               avg(upsell_revenue) FILTER (WHERE upsell_ts IS NOT NULL) AS upsell_revenue_per_buyer,
               count(*) FILTER (WHERE upsell_ts IS NOT NULL) AS all_upsell_buyers
        FROM _bj_ent""")


def _referral(q: Query, facts: Facts) -> None:
    facts.referral = q.one("""
        SELECT count(*) FILTER (WHERE e.purchase_ts >= $start) AS customers,
               count(*) FILTER (WHERE e.purchase_ts >= $start AND e.ask_ts IS NOT NULL) AS asked,
               count(*) FILTER (WHERE e.purchase_ts >= $start AND r.referred > 0) AS referrers,
               count(*) FILTER (WHERE e.purchase_ts >= $start AND e.ask_ts IS NOT NULL AND r.referred > 0)
                   AS asked_referrers,
               count(*) FILTER (WHERE e.referred_ts >= $start) AS referred_leads,
               count(*) FILTER (WHERE e.referred_ts >= $start AND e.purchase_ts IS NOT NULL) AS referred_converted,
               count(*) FILTER (WHERE e.referrer IS NOT NULL AND e.purchase_ts IS NOT NULL) AS referred_customers,
               avg(e.purchase_revenue + e.upsell_revenue) FILTER (WHERE e.referrer IS NOT NULL
                   AND e.purchase_ts IS NOT NULL) AS referred_ltv,
               avg(e.purchase_revenue + e.upsell_revenue) FILTER (WHERE e.purchase_ts IS NOT NULL) AS customer_ltv,
               (SELECT count(*) FROM _bj_ref) AS all_referrers,
               (SELECT coalesce(sum(referred), 0)::BIGINT FROM _bj_ref) AS all_referred
        FROM _bj_ent e LEFT JOIN _bj_ref r ON r.referrer = e.entity_id""")


def _totals(q: Query, facts: Facts) -> None:
    facts.totals = q.one("""
        SELECT (SELECT count(DISTINCT entity_key) FROM _bj_visits WHERE ts >= $start) AS visitors,
               count(*) FILTER (WHERE optin_ts >= $start) AS leads,
               count(*) FILTER (WHERE optin_ts >= $start AND nurtured) AS nurtured_leads,
               count(*) FILTER (WHERE contact_ts >= $start) AS contacted,
               count(*) FILTER (WHERE purchase_ts >= $start) AS customers,
               count(*) FILTER (WHERE purchase_ts >= $start AND refund_ts IS NULL AND return_ts IS NULL) AS kept,
               count(*) FILTER (WHERE purchase_ts >= $start AND upsell_ts IS NOT NULL) AS upsold,
               count(*) FILTER (WHERE purchase_ts >= $start AND entity_id IN (SELECT referrer FROM _bj_ref))
                   AS referrers,
               count(*) FILTER (WHERE optin_ts IS NOT NULL) AS all_leads,
               (SELECT sum(revenue) FROM _bj_acts WHERE (is_purchase OR is_upsell) AND ts >= $start) AS revenue,
               (SELECT sum(amount) FROM spend WHERE date >= $start_date AND date <= $end_date) AS spend
        FROM _bj_ent""")
