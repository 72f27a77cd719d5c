"""The audit document as one self-contained HTML page: Jinja2 template, number formats, inlined plotly.js.

Everything the document says goes through Jinja2's autoescaping; figures travel as JSON in
``<script type="application/json">`` blocks with every ``<`` written as ``\\u003c``, so no name
given by a user can close a script or open a tag. plotly.js is inlined once; nothing is fetched.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from buyerjourney.errors import InputError
from buyerjourney.report.charts import build_charts, number

TEMPLATE = "audit.html.j2"
UNKNOWN = Markup('<span class="unknown">unknown</span>')
WIDE_CHARTS = frozenset({"journey", "cohort_curves"})
MAX_VALUE_JSON = 6000


def _unknown_or(value: Any, text: str) -> str | Markup:
    return UNKNOWN if number(value) is None else text


def fmt_number(value: Any) -> str | Markup:
    """``1234`` -> ``1,234``; ``2.5`` -> ``2.50``; ``0.1234`` -> ``0.123``; null -> unknown."""
    v = number(value)
    if v is None:
        return UNKNOWN
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3g}"


def fmt_money(value: Any) -> str | Markup:
    """Money without a currency sign (the audit does not name one): cents below 1,000, whole above."""
    v = number(value)
    if v is None:
        return UNKNOWN
    return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"


def fmt_signed_money(value: Any) -> str | Markup:
    """Money with its sign: ``+12.50``."""
    v = number(value)
    return UNKNOWN if v is None else ("+" if v > 0 else "") + str(fmt_money(v))


def fmt_percent(value: Any) -> str | Markup:
    """A share given as a fraction: ``0.123`` -> ``12.3%``."""
    v = number(value)
    return UNKNOWN if v is None else f"{v:.1%}"


def fmt_points(value: Any) -> str | Markup:
    """A difference of two shares, in percentage points: ``0.05`` -> ``5.0 pp``."""
    v = number(value)
    return UNKNOWN if v is None else f"{v * 100:.1f} pp"


def fmt_ratio(value: Any) -> str | Markup:
    """Return on spend: ``3.2`` -> ``3.2×``."""
    v = number(value)
    return UNKNOWN if v is None else f"{v:,.1f}×"


def fmt_value(value: Any) -> str | Markup | None:
    """A question's value when it is a single figure or word; ``None`` for structured or missing values."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Real):
        return fmt_number(value)
    if isinstance(value, str) and value:
        return value
    return None


def value_json(value: Any) -> str | None:
    """A structured value (object or list) as indented JSON, cut at a readable length."""
    if not isinstance(value, Mapping | list | tuple) or not value:
        return None
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_VALUE_JSON else text[:MAX_VALUE_JSON] + "\n… (cut; the JSON output has it all)"


def fmt_day(value: Any) -> str:
    """An ISO timestamp as its date (``2025-06-30``); anything else as given."""
    return str(value)[:10] if value else UNKNOWN


def fmt_moment(value: Any) -> str:
    """An ISO timestamp to the minute, in UTC (``2025-06-30 23:58 UTC``)."""
    text = str(value) if value else ""
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 and text[10] == "T" else (text or UNKNOWN)


def _script_safe(json_text: str) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``<`` can appear only inside strings."""
    return Markup(json_text.replace("<", "\\u003c"))


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("buyerjourney.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=fmt_number, money=fmt_money, signed_money=fmt_signed_money, pct=fmt_percent,
                       pp=fmt_points, ratio=fmt_ratio, value=fmt_value, value_json=value_json, day=fmt_day,
                       moment=fmt_moment)
    env.globals["unknown"] = UNKNOWN
    return env


@cache
def _plotly_js() -> Markup:
    return Markup(get_plotlyjs())


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def _rank_key(item: Mapping[str, Any], key: str) -> tuple[bool, float]:
    v = number(item.get(key))
    return (v is None, v if v is not None else 0.0)


def _context(doc: Mapping[str, Any]) -> dict[str, Any]:
    stages = sorted(_mappings(doc.get("stages")), key=lambda s: _rank_key(s, "id"))
    questions = [q for stage in stages for q in _mappings(stage.get("questions"))]
    stage_names = {stage.get("id"): stage.get("name") for stage in stages}
    economics = doc.get("economics") if isinstance(doc.get("economics"), Mapping) else {}
    charts = build_charts(doc.get("charts"))
    period = doc.get("period") if isinstance(doc.get("period"), Mapping) else {}
    return {
        "doc": doc,
        "period": period,
        "stages": [(stage, _mappings(stage.get("questions"))) for stage in stages],
        "answered": sum(1 for q in questions if q.get("status") == "answered"),
        "total_questions": len(questions),
        "leaks": sorted(_mappings(doc.get("leaks")), key=lambda leak: _rank_key(leak, "rank")),
        "stage_names": stage_names,
        "economics": economics,
        "lead_values": sorted(_mappings(economics.get("lead_value")), key=lambda lv: _rank_key(lv, "horizon_months")),
        "referral": economics.get("referral") if isinstance(economics.get("referral"), Mapping) else {},
        "upsell": economics.get("upsell") if isinstance(economics.get("upsell"), Mapping) else {},
        "sources": _mappings(economics.get("sources")),
        "charts": [(chart, chart.key in WIDE_CHARTS,
                    None if chart.figure_json is None else _script_safe(chart.figure_json)) for chart in charts],
        "plotly_js": _plotly_js(),
    }


def render_audit_html(doc: Mapping[str, Any]) -> str:
    """The audit document (the JSON output of ``buyerjourney audit``) as one self-contained HTML page.

    Any value of the document may be null and any chart list empty: the page then says "unknown" or
    what to start tracking. Raises :class:`InputError` when ``doc`` is not a mapping or a chart's
    columns do not line up.
    """
    if not isinstance(doc, Mapping):
        raise InputError(f"the audit document must be a JSON object, not {type(doc).__name__}")
    return _environment().get_template(TEMPLATE).render(_context(doc))


def write_audit_html(doc: Mapping[str, Any], path: str | Path) -> Path:
    """Render the audit document and write it to ``path`` (folders made as needed); returns the path."""
    target = Path(path)
    page = render_audit_html(doc)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {target}: {exc.strerror or exc}", field="output") from exc
    return target
