"""What the audit produces: questions with their answers, stages, and the context every stage reads.

A :class:`Question` is either ``answered`` (a human sentence, a value, and ``how``: the formula with
the counts used) or ``unknown`` (and then ``track`` says exactly what to start recording).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from buyerjourney.config import JourneyConfig

#: Days in an average month (365.25 / 12): horizons written in months become days with this.
MONTH_DAYS = 30.4375

STAGE_NAMES = {1: "Traffic", 2: "Lead capture", 3: "Prospect follow-up", 4: "Sales", 5: "Delivery",
               6: "Upsell", 7: "Referral"}

QUESTIONS = {
    "1.1": "How many distinct, consistent traffic sources are there?",
    "1.2": "How much traffic does each source bring per month?",
    "1.3": "What is the quality of each source, measured by the leads and sales it brings?",
    "2.1": "How many lead-capture mechanisms does each product have?",
    "2.2": "What is the opt-in rate of each capture?",
    "2.3": "What is the sales conversion of each capture?",
    "3.1": "What share of leads buy after opting in (lead-to-sale conversion)?",
    "3.2": "How long are leads on the list before they buy?",
    "3.3": "What is the average purchase price?",
    "4.1": "Which sales process (script or playbook) does each lead type get?",
    "4.2": "What is the lead-to-customer conversion?",
    "4.3": "How long is the sales cycle?",
    "5.1": "How are customers impressed (thank-you call, card, gift)?",
    "5.2": "How are testimonials collected?",
    "5.3": "What are the return, refund and complaint rates?",
    "6.1": "Which extra offers exist, and what do customers buy second?",
    "6.2": "What is the upsell conversion?",
    "6.3": "What is the average upsell price, and its effect on lifetime value and lead value?",
    "7.1": "What is the referral system: are customers asked, and do they refer?",
    "7.2": "What is the referral conversion?",
    "7.3": "What is a referral worth, and so the most one may spend for one?",
}


@dataclass(frozen=True)
class Question:
    """One of the 21 audit questions with its answer."""

    id: str
    question: str
    status: str  # "answered" | "unknown"
    answer: str
    value: Any
    how: str
    track: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "status": self.status, "answer": self.answer,
                "value": self.value, "how": self.how, "track": self.track}


def answered(qid: str, answer: str, value: Any, how: str, *, track: str | None = None) -> Question:
    """An answered question; ``track`` may still name something that would make the answer fuller."""
    return Question(qid, QUESTIONS[qid], "answered", answer, value, how, track)


def unknown(qid: str, track: str, *, why: str, how: str = "") -> Question:
    """A question the data cannot answer: ``why`` says what is missing, ``track`` what to start recording."""
    return Question(qid, QUESTIONS[qid], "unknown", f"Unknown: {why} Start tracking {track}", None,
                    how or "not computed: " + why, track)


@dataclass(frozen=True)
class Stage:
    """A stage of the journey with its three questions."""

    id: int
    questions: tuple[Question, ...]

    @property
    def name(self) -> str:
        return STAGE_NAMES[self.id]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "questions": [q.to_dict() for q in self.questions]}


@dataclass(frozen=True)
class Period:
    """The audited period: ``months`` calendar months ending with the month of ``end`` (= as of)."""

    start: datetime
    end: datetime
    months: int
    month_labels: tuple[str, ...]

    @property
    def length_months(self) -> float:
        """The period's length in average months (the last month may be partial): the per-month divisor."""
        return max((self.end - self.start).total_seconds() / 86400 / MONTH_DAYS, 1 / MONTH_DAYS)


@dataclass(frozen=True)
class Context:
    """What every stage reads besides the facts: the config, the period and how to write money."""

    config: JourneyConfig
    period: Period
    currency: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def horizon_days(self) -> float:
        return self.config.conversion_horizon_months * MONTH_DAYS

    def money(self, value: float | None) -> str:
        """``1234.5`` -> ``$1,234.50`` (``1,234.50 CHF``; no unit when the data names no currency)."""
        if value is None:
            return "unknown"
        amount = f"{value:,.2f}" if abs(value) < 10_000 else f"{value:,.0f}"
        if self.currency is None:
            return amount
        symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(self.currency.upper())
        return f"{symbol}{amount}" if symbol else f"{amount} {self.currency}"


def pct(value: float | None, digits: int = 1) -> str:
    """``0.1234`` -> ``12.3%``."""
    return "unknown" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None) -> str:
    """``1234`` -> ``1,234``; ``12.345`` -> ``12.3``."""
    if value is None:
        return "unknown"
    if float(value).is_integer():
        return f"{int(value):,}"
    text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def listing(items: Iterable[str], sep: str = ", ", limit: int = 12) -> str:
    """The first ``limit`` items joined by ``sep``, then how many more there are (the value has them all)."""
    items = list(items)
    shown = sep.join(items[:limit])
    return shown if len(items) <= limit else f"{shown}{sep}and {len(items) - limit:,} more"


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or ``None`` when ``whole`` is zero."""
    return None if not whole else part / whole


def clean(value: Any) -> Any:
    """Floats fit for JSON (NaN and infinity become null), recursing into lists and dicts."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
