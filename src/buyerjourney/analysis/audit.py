"""The seven-stage journey audit: the 21 answers, the leak ranking and the lead economics.

:func:`run_audit` reads small aggregates from the store (:mod:`buyerjourney.analysis.facts`), fits the
censored conversion curves once, answers each stage's three questions, ranks the leaks from the end of
the journey backwards, and returns an :class:`AuditReport`. ``AuditReport.to_dict()`` is the audit
document: the JSON output of ``buyerjourney audit`` and the input of the HTML report. Its keys are a
contract (the report renders exactly these)::

    {"generated_at", "as_of", "store",
     "period": {"months", "start", "end"},
     "fix_first": "one or two sentences",
     "stages": [{"id": 1, "name": "Traffic",
                 "questions": [{"id": "1.1", "question", "status": "answered" | "unknown",
                                "answer": "human sentence", "value": number | object | null,
                                "how": "formula with the counts used",
                                "track": "what to start tracking (when unknown)"}]}],   # 7 x 3, "1.1".."7.3"
     "leaks": [{"rank", "stage_id", "from", "to", "conversion", "target", "gap", "customers_lost_per_month",
                "revenue_lost_per_month", "promotion_spend_wasted_per_month", "how",
                "metric", "segment": {"dimension", "value"} | null, "unit", "stage"}],
     "economics": {"margin",
                   "lead_value": [{"horizon_months", "conversion", "avg_price", "value", "max_cost_per_lead", "how"}],
                   "referral": {"value", "conversion", "max_spend_per_referral", "max_spend_at_margin", "how"},
                   "upsell": {"ltv_without", "ltv_with", "lead_value_effect", "how", ...},
                   "sources": [{"source", "visitors", "leads", "customers", "revenue", "spend", "cost_per_lead",
                                "cost_per_customer", "return_on_spend"}],
                   "note"},
     "charts": {"journey": [{"stage", "count", "lost"}],
                "cohort_curves": [{"cohort": "2024-01", "days": [..], "conversion": [..]}],
                "time_to_purchase": {"bin_edges_days": [..], "counts": [..]},
                "source_quality": [{"source", "visitors", "leads", "customers", "spend"}],
                "refunds_by_product": [{"product", "customers", "refund_rate", "return_rate", "complaint_rate"}],
                "traffic_by_month": [{"month", "source", "visitors"}]}}

Keys after ``"how"`` in a leak (``metric``, ``segment``, ``unit``, ``stage``) are additions that say which
transition and which source, capture, product or lead type leaks. An answered question may also carry a
``track`` (what would make its answer fuller). ``value`` objects, the upsell block (``upsell_conversion``,
``upsell_revenue_per_buyer``) and ``note`` may hold more than listed; money is in the data's currency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from buyerjourney.analysis import (
    capture,
    charts,
    delivery,
    economics,
    followup,
    leaks,
    referral,
    sales,
    traffic,
    upsell,
)
from buyerjourney.analysis.facts import gather
from buyerjourney.analysis.inputs import Inputs
from buyerjourney.analysis.model import Context, Period, Stage, clean
from buyerjourney.config import JourneyConfig
from buyerjourney.errors import NotFoundError, QueryError, StoreError

#: The audit's steps, as reported to ``progress``.
STEPS = ("reading events (visits, opt-ins, purchases, ...)", "traffic and lead capture",
         "conversion curves (Kaplan–Meier inputs)", "sales, prices and cycles", "delivery, upsell and referral",
         "fitting conversion curves", "answering the 21 questions", "ranking leaks from the end")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`run_audit`; :meth:`to_dict` is the audit document (see the module docstring)."""

    generated_at: datetime
    as_of: datetime
    store: str
    period: Period
    fix_first: str
    stages: tuple[Stage, ...]
    leaks: list[dict[str, Any]]
    economics: dict[str, Any]
    charts: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return clean({
            "generated_at": self.generated_at.isoformat(), "as_of": self.as_of.isoformat(), "store": self.store,
            "period": {"months": self.period.months, "start": self.period.start.isoformat(),
                       "end": self.period.end.isoformat()},
            "fix_first": self.fix_first,
            "stages": [stage.to_dict() for stage in self.stages],
            "leaks": self.leaks, "economics": self.economics, "charts": self.charts})

    def question(self, qid: str) -> Any:
        """The question with id ``qid`` (``"3.1"``)."""
        for stage in self.stages:
            for q in stage.questions:
                if q.id == qid:
                    return q
        raise NotFoundError(f"no question {qid!r}: ids run from 1.1 to 7.3", field="question")


def make_period(as_of: datetime, months: int) -> Period:
    """``months`` calendar months ending with the month of ``as_of`` (UTC), up to ``as_of``."""
    first = as_of.year * 12 + (as_of.month - 1) - (months - 1)
    start = datetime(first // 12, first % 12 + 1, 1, tzinfo=UTC)
    labels = tuple(f"{(first + i) // 12:04d}-{(first + i) % 12 + 1:02d}" for i in range(months))
    return Period(start, as_of, months, labels)


def _as_of(store: Any, as_of: datetime | date | None) -> datetime:
    if getattr(store, "needs_refresh", False):
        raise StoreError(f"the store {store.path} has events not yet indexed: call store.refresh() first "
                         "(buyerjourney audit does it for you)", field="db")
    if as_of is None:
        row = store.query("SELECT max(ts) AS last FROM events").to_pylist()[0]
        if row["last"] is None:
            raise NotFoundError(f"the store {store.path} holds no events: import some first "
                                "(buyerjourney import FILE) or run buyerjourney demo", field="db")
        return row["last"].astimezone(UTC)
    if isinstance(as_of, datetime):
        return as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return datetime(as_of.year, as_of.month, as_of.day, 23, 59, 59, 999999, tzinfo=UTC)


def _currency(rows: list[dict[str, Any]], notes: list[str]) -> str | None:
    if not rows:
        return None
    if len(rows) > 1:
        notes.append("purchases use several currencies (" + ", ".join(f"{r['currency']} {r['n']}" for r in rows)
                     + f"); amounts are added as if all were {rows[0]['currency']}")
    return str(rows[0]["currency"])


def run_audit(store: Any, config: JourneyConfig | None = None, *, period_months: int = 12,
              as_of: datetime | date | None = None, progress: Progress | None = None) -> AuditReport:
    """Audit the buyer journey in ``store`` over the last ``period_months`` months up to ``as_of``.

    ``as_of`` defaults to the last event in the store (a date means the end of that day, UTC);
    ``progress(step, done, total)`` is called as each of :data:`STEPS` starts.
    """
    if period_months < 1 or period_months > 240:
        raise QueryError(f"months: give a period of 1 to 240 months, not {period_months}", field="months")
    config = config or JourneyConfig()
    report = progress or (lambda _step, _done, _total: None)
    done = iter(range(len(STEPS)))

    def step(name: str) -> None:
        report(name, next(done), len(STEPS))

    end = _as_of(store, as_of)
    period = make_period(end, period_months)
    facts = gather(store, config, end, period.start, step)
    notes: list[str] = []
    ctx = Context(config, period, _currency(facts.currencies, notes), notes)
    step("fitting conversion curves")
    inp = Inputs.build(facts, ctx)
    step("answering the 21 questions")
    econ = economics.compute(inp)
    stages = (traffic.analyse(inp), capture.analyse(inp), followup.analyse(inp), sales.analyse(inp),
              delivery.analyse(inp), upsell.analyse(inp, econ), referral.analyse(inp, econ))
    step("ranking leaks from the end")
    ranked = leaks.rank(inp, econ)
    if notes:
        econ["note"] += "; " + "; ".join(notes)
    report("done", len(STEPS), len(STEPS))
    return AuditReport(datetime.now(UTC), end, str(getattr(store, "path", "")), period,
                       leaks.fix_first(ranked, inp), stages, ranked, econ, charts.build(inp))
