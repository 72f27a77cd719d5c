"""A seeded generator of the demo business's whole buyer journey (see :mod:`buyerjourney.demo.business`).

Two years of history end at ``business.END`` (2025-07-01 UTC, exclusive), so a seed always gives the same
events. ``leads`` is the number of leads captured from traffic; leads referred by customers come on top
(a few per cent). Leads are generated in chunks of :data:`CHUNK_LEADS`, each from its own random stream
(``[seed, chunk]``), with numpy arrays throughout, so a million leads (tens of millions of events) stream
out as Arrow tables in seconds.

The journey of a lead
---------------------
- **Traffic.** Leads opt in on dates that grow x1.4 a year (e^0.35), with a yearly swing of +-12% and
  30% fewer sign-ups at weekends.
  Each lead arrives as an anonymous visitor: a landing-page visit (page ``/{product}/{capture}``) plus
  Poisson(1.2) earlier visits up to 21 days before opting in, all carrying the lead's ``source``,
  ``capture`` and ``product`` (and ``campaign`` for paid sources). Around each lead, visitors exposed to
  the same capture who never opt in (traffic that leaks) are drawn so that the capture's opt-in rate
  holds: the count is geometric, failures before the first opt-in.
- **Lead capture.** ``optin`` carries the lead's ``entity_id`` and its visitor's ``anonymous_id`` (so
  identity links the earlier visits), ``capture``, ``product``, ``source``, ``lead_type`` and fit traits
  (``company_size``, ``industry``, ``role``); referred leads also carry ``referrer_id``.
- **Follow-up.** 92% of leads confirm their subscription and get five welcome emails in the first 14
  days, then a monthly newsletter (the 10th, 14:00 UTC) for an exponential lifetime of 9 months on
  average (buyers stay until they buy). Opens are 28% (+12% for welcome emails), 50% for a lead within
  180 days of buying; clicks 18% of opens (30% then).
- **Buying.** A lead eventually buys with probability ``eventual_rate`` of its product (course 0.25,
  coaching 0.16, software 0.22) times multipliers of its source, capture, lead type (and x2 when
  referred). Time from opt-in to purchase: 10% within 2 days to 3 months, 42% in 3-18 months, 48% in
  18-48 months; so about half of eventual buyers buy within 18 months and most of the buyers seen in
  the history bought 3-18 months after opting in. Purchases after the end are not in the data (recent
  cohorts are censored); :attr:`DemoData.truth` keeps them for tests of censoring. 10% of buyers buy
  another product than the one they opted in for; prices: course $500, coaching $2,000, software
  $1,080 (a year), with 10% or 20% discounts for 30% of buyers.
- **Sales.** B2B buyers get the playbook of their lead type before buying (smb 1 call, mid_market 2,
  enterprise 3; the last one ``won``); consumer leads get no calls. 35% of B2B leads who do not buy get
  one call (``lost`` or ``no_decision``). Half the buyers of coaching and software request a demo first.
- **Delivery.** Wow touches (``thank_you``: call, card or gift), refunds (``revenue`` negative and
  ``amount``), returns, complaints (45% of refunded customers complain) and testimonials (5%; 30% after a
  wow touch).
- **Upsell.** An ``upsell_offer`` 60-240 days after the purchase (course -> course_advanced $300,
  coaching -> mastermind $3,000, software -> software_team $600); 35% of offers are bought.
- **Referral.** ``referral_request`` 30-150 days after the purchase; half of the customers asked refer
  1 + Poisson(0.4) people, who opt in 1-60 days later as new leads with ``source=referral`` and
  ``referrer_id``; 1.5% of customers never asked refer one person anyway. Referred leads live the
  same journey (and may refer in turn).
- **Spend.** Monthly rows per paid campaign: clicks x cost per click ($2.40 paid_search, $0.90 social)
  +-10%, campaigns ``search_{product}`` and ``social_{product}``; and $149 a month for the email platform.

Planted leaks (:data:`~buyerjourney.demo.business.PLANTED_LEAKS`)
-----------------------------------------------------------------
Intended rates are the generator's; "measured" is the default demo (30,000 leads, seed 42), where
later steps are censored by the end of history (e.g. an upsell offer comes 60-240 days after a sale).

1. ``social_leads_rarely_buy`` (stage 1 Traffic / 4 Sales): social brings the most leads (28% of
   marketing leads) but their eventual purchase probability is x0.25, against x1.0 to x1.5 for every
   other source, so social has by far the lowest lead->customer rate and the highest spend per
   customer. Measured: 2.0% (168 of 8,336 leads) against 7.8% (organic) to 14.3% (referral).
2. ``webinar_poor_optin`` (stage 2 Lead capture): 7% of visitors shown the webinar capture opt in,
   against 32% for the guide and 24% for the case study (opt-ins / distinct visitors exposed). Webinar
   leads buy well (x1.4), so the leak is the opt-in, not the lead. Measured: 7.1%, 31.7%, 24.1%.
3. ``coaching_refunds`` (stage 5 Delivery): coaching customers without a wow touch are refunded 27% of
   the time (24.9% over all customers), against 4.5% (course) and 4% (software); returns are 1-3% and
   complaints 3-6% (plus refunded customers' complaints). Measured (refunded customers / customers):
   coaching 22.4%, course 4.1%, software 3.3%.
4. ``few_wow_touches`` (stage 5 Delivery): only 12% of customers get a thank-you touch, though it cuts
   their refund probability to x0.35 and lifts testimonials from 5% to 30%. Measured: 11.6%.
5. ``few_upsell_offers`` (stage 6 Upsell): only 20% of customers who keep their purchase are offered
   the upsell, though 35% of those offered buy it. Measured: 11.5% of customers offered so far, 32%
   of those offered bought.
6. ``few_referral_requests`` (stage 7 Referral): only 8% of customers who keep their purchase are asked
   for a referral, though half of those asked refer someone, and referred leads buy x3 (x1.5 x2).
   Measured: 5.8% of customers asked so far.

Buyers take time, measured: 69% of the buyers in the history bought 3-18 months after opting in
(27% sooner); of all eventual buyers (``truth``), 51.7% buy within 18 months.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from buyerjourney.demo.business import BUSINESS, SOURCES, Business
from buyerjourney.demo.journey import END_US, EVENT_NAMES, START_M, Journey, Plan, Texts, id_strings
from buyerjourney.errors import InputError
from buyerjourney.events import EVENT_SCHEMA, SPEND_SCHEMA

DEFAULT_LEADS = 30_000
DEFAULT_SEED = 42
#: Leads per chunk: part of the output's definition (each chunk has its own random stream).
CHUNK_LEADS = 50_000
MAX_LEADS = 20_000_000

__all__ = ["CHUNK_LEADS", "DEFAULT_LEADS", "DEFAULT_SEED", "EVENT_NAMES", "MAX_LEADS", "DemoData", "DemoGenerator",
           "generate"]


@dataclass(frozen=True)
class DemoData:
    """A generated business: events (:data:`EVENT_SCHEMA`), spend (:data:`SPEND_SCHEMA`) and the truth.

    ``truth`` has one row per lead with what the generator decided, including purchases after the end of
    the history (``purchase_ts`` at or beyond ``END``) that the events cannot show.
    """

    events: pa.Table
    spend: pa.Table
    truth: pa.Table


class DemoGenerator:
    """Generate the demo business chunk by chunk: iterate :meth:`batches`, then read :meth:`spend`."""

    def __init__(self, leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, business: Business = BUSINESS) -> None:
        if isinstance(leads, bool) or not isinstance(leads, int) or not 1 <= leads <= MAX_LEADS:
            raise InputError(f"leads must be a whole number from 1 to {MAX_LEADS:,}, got {leads!r}", field="leads")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"seed must be a whole number >= 0, got {seed!r}", field="seed")
        self.leads, self.seed, self.business = leads, seed, business
        self.plan = Plan(business)
        self._texts = Texts()
        self._clicks: np.ndarray | None = None
        self._truth: list[pa.Table] = []
        self._events = self._visitors = self._referred = 0
        self._done = False

    @property
    def chunks(self) -> int:
        """How many chunks :meth:`batches` yields."""
        return -(-self.leads // CHUNK_LEADS)

    @property
    def referred_leads(self) -> int:
        """Leads referred by customers so far (they come on top of ``leads``)."""
        return self._referred

    def batches(self) -> Iterator[pa.Table]:
        """Yield the events chunk by chunk (each sorted by time) as :data:`EVENT_SCHEMA` tables."""
        if self._done or self._events:
            raise InputError("a DemoGenerator runs once: make a new one", field="batches")
        for index in range(self.chunks):
            start = index * CHUNK_LEADS
            rng = np.random.default_rng([self.seed, index])
            journey = Journey(self.plan, self._texts, rng, self.leads + self._referred).run(
                np.arange(start, min(start + CHUNK_LEADS, self.leads)))
            self._referred = journey.next_referred - self.leads
            self._clicks = journey.clicks if self._clicks is None else self._clicks + journey.clicks
            self._truth.extend(journey.truth_tables)
            yield self._table(journey)
        self._done = True

    def spend(self) -> pa.Table:
        """Monthly spend per paid campaign and the email platform (:data:`SPEND_SCHEMA`), after :meth:`batches`."""
        if not self._done or self._clicks is None:
            raise InputError("spend is known once every batch was generated", field="spend")
        clicks, products = self._clicks, self.plan.products
        rng = np.random.default_rng([self.seed, 1 << 30])
        amount = np.round(clicks * self.plan.cpc[None, :, None] * rng.uniform(0.9, 1.1, clicks.shape), 2)
        month, source, product = np.nonzero((clicks > 0) & self.plan.paid[None, :, None])
        rows = [(int(m), SOURCES[s], f"{'search' if SOURCES[s] == 'paid_search' else SOURCES[s]}_{products[p]}",
                 float(amount[m, s, p])) for m, s, p in zip(month, source, product, strict=True)]
        active = sorted({int(m) for m in np.nonzero(clicks.sum(axis=(1, 2)))[0]})
        rows += [(m, "email", "email_platform", self.business.email_tool_monthly) for m in active]
        rows.sort()
        dates = (START_M + np.array([r[0] for r in rows], np.int64)).astype("datetime64[D]")
        return pa.table({"date": pa.array(dates, pa.date32()), "source": [r[1] for r in rows],
                         "campaign": [r[2] for r in rows], "amount": [r[3] for r in rows],
                         "currency": ["USD"] * len(rows)}, schema=SPEND_SCHEMA)

    def truth(self) -> pa.Table:
        """One row per lead: what the generator decided, including purchases after the end of history."""
        if not self._done:
            raise InputError("the truth is known once every batch was generated", field="truth")
        return pa.concat_tables(self._truth)

    def _table(self, journey: Journey) -> pa.Table:
        """A chunk's events before the end of history, sorted by time, with stable unique ids."""
        parts = journey.parts
        ts = np.concatenate([p.ts for p in parts])
        code = np.repeat([p.event for p in parts], [p.ts.size for p in parts])
        lead = np.concatenate([p.lead if p.lead is not None else np.full(p.ts.size, -1) for p in parts])
        visitor = np.concatenate([p.visitor if p.visitor is not None else np.full(p.ts.size, -1) for p in parts])
        keep = np.nonzero(ts < END_US)[0]
        order = keep[np.argsort(ts[keep])]
        lead, visitor = lead[order], visitor[order]
        lead_ids = id_strings("lead", np.concatenate(journey.lead_numbers), 7, "@example.com")
        visitor_ids = id_strings("anon-", self._visitors + np.arange(journey.n_visitors), 9)
        event_ids = id_strings(f"demo{self.seed}-", self._events + np.arange(order.size), 1)
        self._visitors += journey.n_visitors
        self._events += order.size
        return pa.table([
            event_ids,
            lead_ids.take(pa.array(lead, mask=lead < 0)),
            visitor_ids.take(pa.array(visitor, mask=visitor < 0)),
            pa.nulls(order.size, pa.string()),
            pa.array(EVENT_NAMES, pa.string()).take(pa.array(code[order])),
            pa.array(ts[order], pa.timestamp("us", tz="UTC")),
            self._texts.array().take(pa.array(np.concatenate([p.props for p in parts])[order])),
        ], schema=EVENT_SCHEMA)


def generate(leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, business: Business = BUSINESS) -> DemoData:
    """Generate the whole demo business in memory."""
    generator = DemoGenerator(leads, seed, business)
    events = pa.concat_tables(list(generator.batches()))
    return DemoData(events, generator.spend(), generator.truth())
