"""What happens to a chunk of leads, from their first visit to the people they refer (vectorised).

:class:`Journey` draws every decision of :mod:`buyerjourney.demo.generator`'s story with numpy for a whole
cohort at once; events are kept as parallel arrays (:class:`Part`) and JSON properties are built once
per distinct combination of codes, then taken into place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerjourney.demo.business import (
    CALL_OUTCOMES,
    CAPTURES,
    COMPANY_SIZES,
    END,
    GENERAL_PAGES,
    HISTORY_MONTHS,
    INDUSTRIES,
    LEAD_TYPES,
    MONTH_DAYS,
    ROLES,
    SOURCES,
    THANK_YOU_KINDS,
    WELCOME_DAYS,
    Business,
)

#: The event vocabulary of the demo business.
EVENT_NAMES = ("visit", "optin", "email_sent", "email_open", "email_click", "sales_call", "demo_request",
               "purchase", "refund", "return", "complaint", "thank_you", "testimonial", "upsell_offer",
               "upsell_purchase", "referral_request")
_EV = {name: code for code, name in enumerate(EVENT_NAMES)}

_US = 1_000_000
_HOUR = 3600 * _US
_DAY = 24 * _HOUR
_MONTH = int(MONTH_DAYS * _DAY)
_END_M = np.datetime64(END.replace(tzinfo=None), "M")
START_M = _END_M - HISTORY_MONTHS
END_US = int(END.timestamp() * _US)
START_US = int(START_M.astype("datetime64[us]").astype(np.int64))
#: Hour-of-day weights for opt-ins (UTC): quiet nights, busy working hours.
_HOURS = np.array([2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 7, 7, 6, 5, 4, 3], float)
_PAGES = 2 + len(GENERAL_PAGES)  # landing, general pages, product page
_CONSUMER = LEAD_TYPES.index("consumer")


def lead_id(number: int) -> str:
    """The entity id of lead ``number`` (``lead0000123@example.com``)."""
    return f"lead{number:07d}@example.com"


class Part(NamedTuple):
    event: int
    lead: np.ndarray | None  # position in the chunk's lead table, per event
    visitor: np.ndarray | None  # position in the chunk's visitor table, per event
    ts: np.ndarray  # epoch microseconds
    props: np.ndarray  # index into the property texts (:class:`Texts`), per event


@dataclass
class _Cohort:
    """Leads of one generation in one chunk, as parallel arrays of codes."""

    pos: np.ndarray
    product: np.ndarray
    capture: np.ndarray
    source: np.ndarray
    lead_type: np.ndarray
    size: np.ndarray
    industry: np.ndarray
    role: np.ndarray
    optin: np.ndarray
    referrer: np.ndarray  # lead position of the referrer, -1 when not referred
    visitor: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n(self) -> int:
        return int(self.pos.size)



def _cum(rows: Sequence[Sequence[float]]) -> np.ndarray:
    table = np.array(rows, float)
    return np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)


def _weights(mapping: dict[str, float], names: Sequence[str]) -> list[float]:
    return [mapping.get(name, 0.0) for name in names]


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of ``counts`` rows: each row's group and its index within the group."""
    rep = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return rep, np.arange(rep.size) - starts[rep]


def _encode(codes: Sequence[np.ndarray], radices: Sequence[int]) -> np.ndarray:
    out = np.zeros(codes[0].shape, np.int64)
    for code, radix in zip(codes, radices, strict=True):
        out = out * radix + code
    return out


def _decode(code: int, radices: Sequence[int]) -> list[int]:
    digits = []
    for radix in reversed(radices):
        code, digit = divmod(code, radix)
        digits.append(digit)
    return digits[::-1]


def _dumps(props: dict[str, object]) -> str:
    return json.dumps(props, sort_keys=True)  # as buyerjourney.events writes properties


class Texts:
    """The JSON texts of event properties, each built once per (kind, code) and referred to by index."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._index: dict[tuple[str, int], int] = {}

    def column(self, kind: str, codes: np.ndarray, build: Callable[[int], dict[str, object]]) -> np.ndarray:
        """The text index of each row's properties; ``build(code)`` makes the properties of a new code."""
        if not codes.size:
            return np.zeros(0, np.int64)
        present = np.flatnonzero(np.bincount(codes))
        lookup = np.zeros(int(present[-1]) + 1, np.int64)
        for code in present.tolist():
            index = self._index.get((kind, code))
            if index is None:
                index = self._index[kind, code] = len(self.texts)
                self.texts.append(_dumps(build(code)))
            lookup[code] = index
        return lookup[codes]

    def unique(self, props: list[dict[str, object]]) -> np.ndarray:
        """Indexes of texts that are not shared (e.g. an opt-in naming its referrer)."""
        start = len(self.texts)
        self.texts.extend(_dumps(p) for p in props)
        return np.arange(start, len(self.texts))

    def array(self) -> pa.Array:
        """All texts so far, as an Arrow array to take from."""
        return pa.array(self.texts, pa.string())


def id_strings(prefix: str, numbers: np.ndarray, width: int, suffix: str = "") -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, suffix, "")



class Plan:
    """The business's rates as numpy arrays indexed by the codes of the vocabularies (computed once)."""

    def __init__(self, business: Business) -> None:
        self.business = business
        b = business
        self.products = [p.name for p in b.products]
        self.price = np.array([p.price for p in b.products])
        self.upsell_price = np.array([p.upsell_price for p in b.products])
        self.product_cum = _cum([[p.share for p in b.products]])[0]
        self.capture_cum = _cum([_weights(p.captures, CAPTURES) for p in b.products])
        self.lead_type_cum = _cum([_weights(p.lead_types, LEAD_TYPES) for p in b.products])
        types = [next(t for t in b.lead_types if t.name == name) for name in LEAD_TYPES]
        self.size_cum = _cum([_weights(t.sizes, COMPANY_SIZES) for t in types])
        self.role_cum = _cum([_weights(t.roles, ROLES) for t in types])
        self.calls = np.array([t.sales_calls for t in types])
        sources = [b.source(name) for name in SOURCES]
        self.source_cum = _cum([[s.share for s in sources]])[0]
        self.paid = np.array([s.paid for s in sources])
        self.cpc = np.array([s.cost_per_click for s in sources])
        self.optin_rate = np.array([b.capture(c).optin_rate for c in CAPTURES])
        self.buy = {
            "product": np.array([p.eventual_rate for p in b.products]),
            "source": np.array([s.buy_multiplier for s in sources]),
            "capture": np.array([b.capture(c).buy_multiplier for c in CAPTURES]),
            "lead_type": np.array([t.buy_multiplier for t in types]),
        }
        self.discounts = np.array(list(b.discounts))
        self.discount_cum = _cum([list(b.discounts.values())])[0]
        self.kind_cum = _cum([_weights(b.thank_you_kinds, THANK_YOU_KINDS)])[0]
        self.demo_products = np.isin(self.products, b.demo_request_products)
        days = np.arange((END_US - START_US) // _DAY)
        dates = START_M.astype("datetime64[D]") + days
        years = days / 365.25
        yearday = (dates - dates.astype("datetime64[Y]")).astype(int)
        weekday = (dates.astype(np.int64) + 3) % 7  # 0 = Monday
        weight = (np.exp(b.growth_per_year * years) * (1 + b.seasonality * np.cos(2 * np.pi * (yearday - 20) / 365.25))
                  * np.where(weekday >= 5, 0.7, 1.0))
        weight[0] = 0.0
        self.day_p = weight / weight.sum()
        months = np.arange(START_M, _END_M + 1)
        sends = months.astype("datetime64[us]").astype(np.int64) + 9 * _DAY + 14 * _HOUR
        self.sends = sends[sends < END_US]
        self.send_names = [f"newsletter_{m.astype(object).year}_{m.astype(object).month:02d}" for m in months]


class Journey:
    """One chunk of leads and everything that happens to them (and to the people they refer)."""

    def __init__(self, plan: Plan, texts: Texts, rng: np.random.Generator, next_referred: int) -> None:
        self.g, self.b, self.rng, self.texts = plan, plan.business, rng, texts
        self.next_referred = next_referred  # number of the next referred lead (they follow the marketing leads)
        self.lead_numbers: list[np.ndarray] = []
        self.n_leads = self.n_visitors = 0
        self.parts: list[Part] = []
        self.truth_tables: list[pa.Table] = []
        self.clicks = np.zeros((HISTORY_MONTHS + 1, len(SOURCES), len(plan.products)), np.int64)

    # -- helpers ---------------------------------------------------------------------------------
    def uniform(self, n: int, low: float, high: float) -> np.ndarray:
        return self.rng.uniform(low, high, n)

    def days(self, n: int, low: float, high: float) -> np.ndarray:
        return (self.rng.uniform(low, high, n) * _DAY).astype(np.int64)

    def pick(self, cum: np.ndarray) -> np.ndarray:
        """One category per row of ``cum`` (a row of cumulative probabilities per draw)."""
        return np.minimum((self.rng.random(cum.shape[0])[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)

    def pick_n(self, cum: np.ndarray, n: int) -> np.ndarray:
        """``n`` draws from one row of cumulative probabilities."""
        return np.minimum((self.rng.random(n)[:, None] >= cum[None, :]).sum(axis=1), cum.size - 1)

    def chance(self, p: np.ndarray | float, n: int) -> np.ndarray:
        return self.rng.random(n) < p

    def new_leads(self, numbers: np.ndarray) -> np.ndarray:
        self.lead_numbers.append(numbers)
        pos = np.arange(self.n_leads, self.n_leads + numbers.size)
        self.n_leads += numbers.size
        return pos

    def new_visitors(self, n: int) -> np.ndarray:
        pos = np.arange(self.n_visitors, self.n_visitors + n)
        self.n_visitors += n
        return pos

    def add(self, event: str, ts: np.ndarray, props: np.ndarray, lead: np.ndarray | None = None,
            visitor: np.ndarray | None = None) -> None:
        if ts.size:
            self.parts.append(Part(_EV[event], lead, visitor, ts.astype(np.int64), props))

    def product_json(self, product: np.ndarray) -> pa.Array:
        return self.texts.column("product", product, lambda p: {"product": self.g.products[p]})

    # -- the journey -----------------------------------------------------------------------------
    def run(self, numbers: np.ndarray) -> Journey:
        """Simulate the marketing leads ``numbers`` and everyone they refer; the result is in ``self``."""
        cohort = self.marketing_leads(numbers)
        self.traffic(cohort)
        for _ in range(50):  # referred leads refer in turn; the chain dies out after a few generations
            cohort = self.lead_journey(cohort)
            if not cohort.n:
                break
            self.referral_visits(cohort)
        return self

    def marketing_leads(self, numbers: np.ndarray) -> _Cohort:
        g, n = self.g, numbers.size
        product = self.pick_n(g.product_cum, n)
        lead_type = self.pick(g.lead_type_cum[product])
        day = self.rng.choice(g.day_p.size, size=n, p=g.day_p)  # day 0 has no weight: visits come first
        hour = self.rng.choice(24, size=n, p=_HOURS / _HOURS.sum())
        optin = START_US + day * _DAY + hour * _HOUR + (self.rng.random(n) * _HOUR).astype(np.int64)
        return _Cohort(
            pos=self.new_leads(numbers), product=product, capture=self.pick(g.capture_cum[product]),
            source=self.pick_n(g.source_cum, n), lead_type=lead_type, size=self.pick(g.size_cum[lead_type]),
            industry=self.rng.integers(0, len(INDUSTRIES), n), role=self.pick(g.role_cum[lead_type]),
            optin=optin, referrer=np.full(n, -1))

    def traffic(self, c: _Cohort) -> None:
        """Visits of the leads before they opt in, and of the visitors around them who never do."""
        b, n = self.b, c.n
        c.visitor = self.new_visitors(n)
        visits = 1 + self.rng.poisson(b.visits_before_optin, n)
        rep, k = _expand(visits)
        last = k == visits[rep] - 1
        window = np.minimum(b.first_visit_days * _DAY, c.optin - START_US - 2 * _HOUR).clip(0)
        first_gap = _HOUR + (self.rng.random(n) * window).astype(np.int64)
        fraction = np.where(k == 0, 1.0, self.uniform(rep.size, 0.05, 0.95))
        ts = np.where(last, c.optin[rep] - self.days(rep.size, 30 / 86400, 20 / 1440),
                      c.optin[rep] - (fraction * first_gap[rep]).astype(np.int64)).clip(START_US)
        page = np.where((k == 0) | last, 0, self.rng.integers(1, _PAGES, rep.size))
        self.visits(c, rep, c.visitor[rep], ts, page)
        leakers = np.minimum(self.rng.negative_binomial(1, self.g.optin_rate[c.capture]), 400)
        lrep, _ = _expand(leakers)
        center = c.optin[lrep] + (self.rng.normal(0, b.leaker_spread_days, lrep.size) * _DAY).astype(np.int64)
        center = np.where((center >= END_US) | (center < START_US), 2 * c.optin[lrep] - center, center)
        center = center.clip(START_US, END_US - _HOUR)
        visitor = self.new_visitors(lrep.size)
        visits = 1 + self.rng.poisson(b.visits_per_leaker, lrep.size)
        vrep, k = _expand(visits)
        later = self.days(vrep.size, 0.01, 3.0) * (k > 0)
        ts = np.where(center[vrep] + later < END_US, center[vrep] + later, center[vrep] - later).clip(START_US)
        page = np.where(k == 0, 0, self.rng.integers(1, _PAGES, vrep.size))
        self.visits(c, lrep[vrep], visitor[vrep], ts, page)

    def referral_visits(self, c: _Cohort) -> None:
        c.visitor = self.new_visitors(c.n)
        ts = c.optin - self.days(c.n, 1 / 1440, 30 / 1440)
        self.visits(c, np.arange(c.n), c.visitor, ts, np.zeros(c.n, np.int64))

    def visits(self, c: _Cohort, lead: np.ndarray, visitor: np.ndarray, ts: np.ndarray, page: np.ndarray) -> None:
        source, product, capture = c.source[lead], c.product[lead], c.capture[lead]
        radices = (len(SOURCES), len(self.g.products), len(CAPTURES), _PAGES)
        names = self.g.products

        def build(code: int) -> dict[str, object]:
            s, p, cap, pg = _decode(code, radices)
            pages = (f"/{names[p]}/{CAPTURES[cap]}", *GENERAL_PAGES, f"/{names[p]}")
            props: dict[str, object] = {"source": SOURCES[s], "product": names[p], "capture": CAPTURES[cap],
                                        "page": pages[pg]}
            if self.g.paid[s]:
                props["campaign"] = f"{'search' if SOURCES[s] == 'paid_search' else SOURCES[s]}_{names[p]}"
            return props

        self.add("visit", ts, self.texts.column("visit", _encode((source, product, capture, page), radices), build),
                 visitor=visitor)
        keep = (ts < END_US) & self.g.paid[source]
        month = (ts[keep].astype("datetime64[us]").astype("datetime64[M]") - START_M).astype(np.int64)
        clicks = self.clicks
        flat = np.ravel_multi_index((month, source[keep], product[keep]), clicks.shape)
        clicks += np.bincount(flat, minlength=clicks.size).reshape(clicks.shape)

    def lead_journey(self, c: _Cohort) -> _Cohort:
        """Opt-in, follow-up, sales, delivery, upsell and referral of a cohort; returns the leads it refers."""
        g, b, n = self.g, self.b, c.n
        referred = c.referrer >= 0
        self.optins(c, referred)
        q = (g.buy["product"][c.product] * g.buy["source"][c.source] * g.buy["capture"][c.capture]
             * g.buy["lead_type"][c.lead_type] * np.where(referred, b.referred_buy_multiplier, 1.0))
        buyer = self.chance(np.minimum(q, 0.95), n)
        purchase = c.optin + self.delay(n)
        bought = np.where(self.chance(b.other_product_share, n),
                          (c.product + 1 + self.rng.integers(0, len(g.products) - 1, n)) % len(g.products),
                          c.product)
        self.truth(c, referred, buyer, purchase, bought)
        self.nurture(c, buyer, purchase)
        self.sales(c, buyer, purchase)
        customer = np.nonzero(buyer & (purchase < END_US))[0]
        return self.customers(c, customer, purchase[customer], bought[customer])

    def delay(self, n: int) -> np.ndarray:
        """Time from opt-in to purchase for would-be buyers (microseconds)."""
        t = self.b.time_to_purchase
        part = self.pick_n(_cum([[t.fast, t.mid, t.slow]])[0], n)
        fast_days = np.exp(self.uniform(n, np.log(2.0), np.log(3 * MONTH_DAYS)))
        mid_months = 3 + 15 * self.rng.beta(*t.mid_beta, n)
        slow_months = 18 + 30 * self.rng.beta(*t.slow_beta, n)
        days = np.select([part == 0, part == 1], [fast_days, mid_months * MONTH_DAYS], slow_months * MONTH_DAYS)
        return (days * _DAY).astype(np.int64)

    def optins(self, c: _Cohort, referred: np.ndarray) -> None:
        names = self.g.products
        radices = (len(CAPTURES), len(names), len(SOURCES), len(LEAD_TYPES), len(COMPANY_SIZES), len(INDUSTRIES),
                   len(ROLES))

        def traits(code: int) -> dict[str, object]:
            cap, p, s, lt, size, ind, role = _decode(code, radices)
            return {"capture": CAPTURES[cap], "product": names[p], "source": SOURCES[s], "lead_type": LEAD_TYPES[lt],
                    "company_size": COMPANY_SIZES[size], "industry": INDUSTRIES[ind], "role": ROLES[role]}

        codes = _encode((c.capture, c.product, c.source, c.lead_type, c.size, c.industry, c.role), radices)
        if referred.any():
            numbers = np.concatenate(self.lead_numbers)
            props = self.texts.unique([{**traits(int(code)), "referrer_id": lead_id(int(numbers[ref]))}
                                       for code, ref in zip(codes, c.referrer, strict=True)])
        else:
            props = self.texts.column("optin", codes, traits)
        self.add("optin", c.optin, props, lead=c.pos, visitor=c.visitor)

    def truth(self, c: _Cohort, referred: np.ndarray, buyer: np.ndarray, purchase: np.ndarray,
              bought: np.ndarray) -> None:
        names = np.array(self.g.products)
        numbers = np.concatenate(self.lead_numbers)[c.pos]
        self.truth_tables.append(pa.table({
            "entity_id": id_strings("lead", numbers, 7, "@example.com"),
            "optin_ts": pa.array(c.optin, pa.timestamp("us", tz="UTC")),
            "source": pa.array(np.array(SOURCES)[c.source]), "product": pa.array(names[c.product]),
            "capture": pa.array(np.array(CAPTURES)[c.capture]),
            "lead_type": pa.array(np.array(LEAD_TYPES)[c.lead_type]),
            "referred": pa.array(referred), "eventual_buyer": pa.array(buyer),
            "purchase_ts": pa.array(purchase, pa.timestamp("us", tz="UTC"), mask=~buyer),
            "purchase_product": pa.array(names[bought], mask=~buyer)}))

    def nurture(self, c: _Cohort, buyer: np.ndarray, purchase: np.ndarray) -> None:
        """Welcome emails, the monthly newsletter, and the opens and clicks they get."""
        g, b, n = self.g, self.b, c.n
        subscribed = self.chance(b.nurture_rate, n)
        rep, k = _expand(np.where(subscribed, len(WELCOME_DAYS), 0))
        welcome_ts = (c.optin[rep] + (np.array(WELCOME_DAYS)[k] * _DAY).astype(np.int64)
                      + np.where(k == 0, self.days(rep.size, 1 / 1440, 10 / 1440), self.days(rep.size, 0, 2 / 24)))
        life = (self.rng.exponential(b.newsletter_months, n) * _MONTH).astype(np.int64)
        life = np.where(buyer, np.maximum(life, purchase - c.optin + 30 * _DAY), life)
        first = np.searchsorted(g.sends, c.optin, "right")
        last = np.searchsorted(g.sends, np.minimum(c.optin + life, END_US), "left")
        nrep, nk = _expand(np.where(subscribed, np.maximum(last - first, 0), 0))
        send_index = first[nrep] + nk
        lead = np.concatenate([rep, nrep])
        ts = np.concatenate([welcome_ts, g.sends[send_index] + self.days(nrep.size, 0, 1 / 24)])
        campaign = np.concatenate([k, len(WELCOME_DAYS) + send_index])
        welcome = np.concatenate([np.ones(rep.size, bool), np.zeros(nrep.size, bool)])

        def name(code: int) -> dict[str, object]:
            return {"campaign": f"welcome_{code + 1}" if code < len(WELCOME_DAYS)
                    else g.send_names[code - len(WELCOME_DAYS)]}

        props = self.texts.column("email", campaign, name)
        self.add("email_sent", ts, props, lead=c.pos[lead])
        hot = buyer[lead] & (purchase[lead] >= ts) & (purchase[lead] - ts <= 180 * _DAY)
        opened = self.chance(np.where(hot, b.buyer_open_rate, b.open_rate) + welcome * b.welcome_open_bonus, ts.size)
        open_ts = ts[opened] + np.maximum(self.rng.exponential(5 * _HOUR, int(opened.sum())), 60 * _US).astype(np.int64)
        open_props = props[opened]
        self.add("email_open", open_ts, open_props, lead=c.pos[lead[opened]])
        clicked = self.chance(np.where(hot[opened], b.buyer_click_rate, b.click_rate), open_ts.size)
        click_ts = open_ts[clicked] + self.days(int(clicked.sum()), 5 / 86400, 10 / 1440)
        self.add("email_click", click_ts, open_props[clicked], lead=c.pos[lead[opened][clicked]])

    def sales(self, c: _Cohort, buyer: np.ndarray, purchase: np.ndarray) -> None:
        """The playbook calls before a purchase, cold calls to B2B leads who do not buy, demo requests."""
        g, b, n = self.g, self.b, c.n
        calls = np.where(buyer, g.calls[c.lead_type], 0)
        rep, k = _expand(calls)
        span = np.maximum(purchase - c.optin - _HOUR, _HOUR)
        gap = np.minimum(self.days(n, 2, 15), span // np.maximum(calls, 1))
        ts = purchase[rep] - (k + 1) * gap[rep]
        outcome = np.where((k == 0) & (purchase[rep] < END_US), 0, 1)
        cold = ~buyer & (c.lead_type != _CONSUMER) & self.chance(b.cold_call_rate, n)
        cold_ts = c.optin[cold] + self.days(int(cold.sum()), 2, 90)
        cold_outcome = np.where(self.chance(0.6, cold_ts.size), 2, 3)
        lead = np.concatenate([rep, np.nonzero(cold)[0]])
        radices = (len(LEAD_TYPES), len(CALL_OUTCOMES))
        codes = _encode((c.lead_type[lead], np.concatenate([outcome, cold_outcome])), radices)

        def call(code: int) -> dict[str, object]:
            lead_type, result = _decode(code, radices)
            return {"lead_type": LEAD_TYPES[lead_type], "outcome": CALL_OUTCOMES[result]}

        props = self.texts.column("call", codes, call)
        self.add("sales_call", np.concatenate([ts, cold_ts]), props, lead=c.pos[lead])
        eligible = g.demo_products[c.product]
        asks = eligible & self.chance(np.where(buyer, b.buyer_demo_request_rate, b.lead_demo_request_rate), n)
        when = np.where(buyer, np.maximum(purchase - self.days(n, 3, 30), c.optin + _HOUR),
                        c.optin + self.days(n, 1, 120))
        self.add("demo_request", when[asks], self.product_json(c.product[asks]), lead=c.pos[asks])

    def customers(self, c: _Cohort, idx: np.ndarray, paid_at: np.ndarray, product: np.ndarray) -> _Cohort:
        """Purchase, delivery, upsell and referrals of the leads at ``idx`` who bought before the end."""
        g, b, n = self.g, self.b, idx.size
        lead = c.pos[idx]
        discount = self.pick_n(g.discount_cum, n)
        nd, nl = len(g.discounts), len(LEAD_TYPES)
        names = g.products

        def purchase_props(code: int) -> dict[str, object]:
            p, d, lt = _decode(code, (len(names), nd, nl))
            return {"product": names[p], "revenue": round(float(g.price[p] * (1 - g.discounts[d])), 2),
                    "currency": "USD", "lead_type": LEAD_TYPES[lt]}

        purchase_codes = _encode((product, discount, c.lead_type[idx]), (len(names), nd, nl))
        self.add("purchase", paid_at, self.texts.column("purchase", purchase_codes, purchase_props), lead=lead)
        wow_ts = paid_at + self.days(n, 1, 10)
        wow = self.chance(b.thank_you_rate, n) & (wow_ts < END_US)
        kinds = self.pick_n(g.kind_cum, int(wow.sum()))
        wow_props = self.texts.column("thank_you", kinds, lambda k: {"kind": THANK_YOU_KINDS[k]})
        self.add("thank_you", wow_ts[wow], wow_props,
                 lead=lead[wow])
        refund_rate = np.array([p.refund_rate for p in b.products])[product]
        refund = self.chance(refund_rate * np.where(wow, b.wow_refund_factor, 1.0), n)
        refund_ts = paid_at + self.days(n, 3, 30)

        def refund_props(code: int) -> dict[str, object]:
            p, d = _decode(code, (len(names), nd))
            amount = round(float(g.price[p] * (1 - g.discounts[d])), 2)
            return {"product": names[p], "revenue": -amount, "amount": amount, "currency": "USD"}

        self.add("refund", refund_ts[refund], self.texts.column(
            "refund", _encode((product, discount), (len(names), nd))[refund], refund_props), lead=lead[refund])
        returned = self.chance(np.array([p.return_rate for p in b.products])[product], n)
        self.add("return", paid_at[returned] + self.days(int(returned.sum()), 1, 14),
                 self.product_json(product[returned]), lead=lead[returned])
        complaint_rate = np.array([p.complaint_rate for p in b.products])[product]
        complained = self.chance(np.where(refund, b.refund_complaint_rate, complaint_rate), n)
        complaint_ts = np.where(refund, np.maximum(refund_ts - self.days(n, 1 / 24, 2), paid_at + _HOUR),
                                paid_at + self.days(n, 2, 40))
        self.add("complaint", complaint_ts[complained], self.product_json(product[complained]), lead=lead[complained])
        kept = ~refund
        praised = kept & self.chance(np.where(wow, b.wow_testimonial_rate, b.testimonial_rate), n)
        self.add("testimonial", paid_at[praised] + self.days(int(praised.sum()), 20, 90),
                 self.product_json(product[praised]), lead=lead[praised])
        offered = kept & self.chance(b.upsell_offer_rate, n)
        offer_ts = paid_at + self.days(n, *b.upsell_delay_days)
        upsell_names = [p.upsell_product for p in b.products]
        self.add("upsell_offer", offer_ts[offered],
                 self.texts.column("upsell_offer", product[offered], lambda p: {"product": upsell_names[p]}),
                 lead=lead[offered])
        took = offered & self.chance(b.upsell_buy_rate, n)
        self.add("upsell_purchase", offer_ts[took] + self.days(int(took.sum()), 1 / 24, 30),
                 self.texts.column("upsell_purchase", product[took], lambda p: {
                     "product": upsell_names[p], "currency": "USD", "revenue": float(g.upsell_price[p])}),
                 lead=lead[took])
        asked = kept & self.chance(b.referral_ask_rate, n)
        ask_ts = paid_at + self.days(n, 30, 150)
        self.add("referral_request", ask_ts[asked], self.product_json(product[asked]), lead=lead[asked])
        refers = np.where(asked, self.chance(b.referral_yes_rate, n) * (1 + self.rng.poisson(b.extra_referrals, n)),
                          kept & self.chance(b.spontaneous_referral_rate, n))
        rep, _ = _expand(refers.astype(np.int64))
        start = np.where(asked, ask_ts, paid_at + self.days(n, 30, 300))[rep]
        optin = start + np.where(asked[rep], self.days(rep.size, 1, 60), 0)
        rep, optin = rep[optin < END_US], optin[optin < END_US]
        return self.referred_leads(c, idx[rep], product[rep], optin)

    def referred_leads(self, c: _Cohort, referrer: np.ndarray, product: np.ndarray, optin: np.ndarray) -> _Cohort:
        g, n = self.g, referrer.size
        numbers = self.next_referred + np.arange(n)
        self.next_referred += n
        lead_type = c.lead_type[referrer]
        same_industry = self.chance(0.6, n)
        return _Cohort(
            pos=self.new_leads(numbers), product=product, capture=self.pick(g.capture_cum[product]),
            source=np.full(n, SOURCES.index("referral")), lead_type=lead_type, size=self.pick(g.size_cum[lead_type]),
            industry=np.where(same_industry, c.industry[referrer], self.rng.integers(0, len(INDUSTRIES), n)),
            role=self.pick(g.role_cum[lead_type]), optin=optin, referrer=c.pos[referrer])
