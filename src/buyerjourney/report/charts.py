"""Plotly figures of the audit report, one per chart of the audit document's ``charts`` part.

Each builder takes that chart's data (rows as the audit contract gives them; any value may be null)
and returns a figure, or ``None`` when there is nothing to draw, so the report can say what to start
tracking instead of showing an empty chart. Labels are HTML-escaped because Plotly reads its text as
pseudo-HTML: a source called ``<b>x</b>`` is shown as written, not in bold.
"""

from __future__ import annotations

import html
import itertools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from buyerjourney.errors import InputError

BLUE = "#2563eb"
RED = "#dc2626"
GREEN = "#16a34a"
AMBER = "#d97706"
GREY = "#64748b"
LEGEND_LIMIT = 30
FONT = "Inter, 'Segoe UI', system-ui, -apple-system, Helvetica, Arial, sans-serif"

Rows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class ChartSpec:
    """One chart of the report: where its data is, what it shows, and what to track when it is empty."""

    key: str
    title: str
    caption: str
    track: str
    build: Callable[[Any], go.Figure | None]


@dataclass(frozen=True)
class RenderedChart:
    """A chart ready for the template: its figure as Plotly JSON, or ``None`` with the note to show."""

    key: str
    title: str
    caption: str
    track: str
    figure_json: str | None


def number(value: Any) -> float | None:
    """A finite number, or ``None`` for null, text, booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value) if math.isfinite(value) else None


def label(value: Any, limit: int | None = None) -> str:
    """Text for Plotly, escaped so that user-given names are shown literally; cut at ``limit`` characters."""
    text = "unknown" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def _cut(escaped: str, limit: int) -> str:
    """An already escaped label cut at ``limit`` characters of the text it shows."""
    return label(html.unescape(escaped), limit)


def _short_ticks(fig: go.Figure, names: Sequence[Any], limit: int = 18) -> None:
    """Category tick labels cut short (the hover keeps the whole name)."""
    fig.update_xaxes(type="category", tickmode="array", tickvals=[label(n) for n in names],
                     ticktext=[label(n, limit) for n in names])


def _rows(data: Any) -> list[Mapping[str, Any]]:
    return [row for row in data if isinstance(row, Mapping)] if isinstance(data, Sequence) else []


def _any_number(*columns: Sequence[float | None]) -> bool:
    return any(value is not None for column in columns for value in column)


def _layout(fig: go.Figure, *, height: int = 380, legend: bool = True) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        font={"family": FONT, "size": 13, "color": "#1e293b"},
        margin={"l": 10, "r": 10, "t": 40 if legend else 20, "b": 10},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "xanchor": "left"},
        hoverlabel={"font": {"family": FONT}},
        bargap=0.25,
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def journey_figure(data: Any) -> go.Figure | None:
    """How many reached each stage (left) and how many were lost there (right, red)."""
    rows = _rows(data)
    stages = [label(row.get("stage")) for row in rows]
    counts = [number(row.get("count")) for row in rows]
    lost = [number(row.get("lost")) for row in rows]
    if not _any_number(counts, lost):
        return None
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.62, 0.38], horizontal_spacing=0.03,
                        subplot_titles=("reached the stage", "lost at the stage"))
    for col, values, name, color in ((1, counts, "reached", BLUE), (2, lost, "lost", RED)):
        fig.add_trace(go.Bar(
            x=values, y=stages, orientation="h", name=name, marker_color=color,
            text=[f"{v:,.0f}" if v is not None else "unknown" for v in values], textposition="auto",
            cliponaxis=False, hovertemplate=f"%{{y}}<br>{name}: %{{x:,.0f}}<extra></extra>",
        ), row=1, col=col)
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(type="log", title_text="people (log scale)", tickformat="~s")
    return _layout(fig, height=max(320, 90 + 48 * len(rows)), legend=False)


def cohort_curves_figure(data: Any) -> go.Figure | None:
    """Cumulative lead-to-sale conversion by days since opt-in, one line per entry cohort."""
    rows = _rows(data)
    traces = []
    for index, row in enumerate(rows):
        days = [number(d) for d in row.get("days") or []]
        conversion = [number(c) for c in row.get("conversion") or []]
        if len(days) != len(conversion):
            raise InputError(f"charts.cohort_curves[{index}]: {len(days)} days for {len(conversion)} conversions",
                             field=f"charts.cohort_curves[{index}]")
        if _any_number(conversion):
            traces.append((label(row.get("cohort")), days, conversion))
    if not traces:
        return None
    colors = sample_colorscale("Viridis", [0.85 * i / max(1, len(traces) - 1) for i in range(len(traces))])
    fig = go.Figure()
    for (name, days, conversion), color in zip(traces, colors, strict=True):
        fig.add_trace(go.Scatter(
            x=days, y=conversion, name=name, mode="lines", line={"color": color, "width": 2, "shape": "hv"},
            meta=name, hovertemplate="cohort %{meta}<br>day %{x:,.0f}: %{y:.1%}<extra></extra>",
        ))
    fig.update_xaxes(title_text="days since opt-in", rangemode="tozero")
    fig.update_yaxes(title_text="bought (cumulative)", tickformat=".0%", rangemode="tozero")
    return _layout(fig, height=420)


def time_to_purchase_figure(data: Any) -> go.Figure | None:
    """Histogram of the days from opt-in to first purchase, on the audit's own bins."""
    if not isinstance(data, Mapping):
        return None
    edges = [number(e) for e in data.get("bin_edges_days") or []]
    counts = [number(c) for c in data.get("counts") or []]
    if not _any_number(counts):
        return None
    if len(edges) != len(counts) + 1:
        raise InputError(f"charts.time_to_purchase: {len(edges)} bin edges for {len(counts)} counts "
                         f"(expected {len(counts) + 1})", field="charts.time_to_purchase")
    bins = [f"{_days(low)}–{_days(high)}" for low, high in itertools.pairwise(edges)]
    fig = go.Figure(go.Bar(
        x=bins, y=counts, marker_color=BLUE, text=[f"{c:,.0f}" if c is not None else "" for c in counts],
        textposition="outside", cliponaxis=False, hovertemplate="%{x} days: %{y:,.0f} buyers<extra></extra>",
    ))
    fig.update_xaxes(type="category", title_text="days from opt-in to purchase")
    fig.update_yaxes(title_text="buyers", tickformat=",.0f")
    return _layout(fig, legend=False)


def _days(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def source_quality_figure(data: Any) -> go.Figure | None:
    """Leads and customers per source (bars) against the spend on that source (diamonds, right axis)."""
    rows = _rows(data)
    sources = [label(row.get("source")) for row in rows]
    visitors = [number(row.get("visitors")) for row in rows]
    leads = [number(row.get("leads")) for row in rows]
    customers = [number(row.get("customers")) for row in rows]
    spend = [number(row.get("spend")) for row in rows]
    if not _any_number(leads, customers, spend):
        return None
    hover = [[_fmt(v), _rate(lead, v), _rate(cust, lead)] for v, lead, cust in zip(visitors, leads, customers,
                                                                                   strict=True)]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for values, name, color in ((leads, "leads", BLUE), (customers, "customers", GREEN)):
        fig.add_trace(go.Bar(
            x=sources, y=values, name=name, marker_color=color, customdata=hover,
            hovertemplate=(f"%{{x}}<br>{name}: %{{y:,.0f}}<br>visitors: %{{customdata[0]}}"
                           "<br>leads per visitor: %{customdata[1]}<br>customers per lead: %{customdata[2]}"
                           "<extra></extra>"),
        ), secondary_y=False)
    if _any_number(spend):
        fig.add_trace(go.Scatter(
            x=sources, y=spend, name="spend", mode="markers",
            marker={"symbol": "diamond", "size": 13, "color": AMBER, "line": {"width": 1, "color": "#fff"}},
            hovertemplate="%{x}<br>spend: %{y:,.0f}<extra></extra>",
        ), secondary_y=True)
        fig.update_yaxes(title_text="spend", tickformat=",.0f", tickmode="auto", showgrid=False, rangemode="tozero",
                         secondary_y=True)
    _short_ticks(fig, [row.get("source") for row in rows])
    fig.update_yaxes(title_text="people", tickformat=",.0f", rangemode="tozero", secondary_y=False)
    fig.update_layout(barmode="group")
    return _layout(fig)


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _rate(part: float | None, whole: float | None) -> str:
    return "unknown" if part is None or not whole else f"{part / whole:.1%}"


def refunds_figure(data: Any) -> go.Figure | None:
    """Refund, return and complaint rates per product, side by side."""
    rows = _rows(data)
    products = [label(row.get("product")) for row in rows]
    customers = [_fmt(number(row.get("customers"))) for row in rows]
    series = [([number(row.get(key)) for row in rows], name, color) for key, name, color in (
        ("refund_rate", "refunds", RED), ("return_rate", "returns", AMBER), ("complaint_rate", "complaints", GREY))]
    if not _any_number(*(values for values, _, _ in series)):
        return None
    fig = go.Figure()
    for values, name, color in series:
        fig.add_trace(go.Bar(
            x=products, y=values, name=name, marker_color=color, customdata=customers,
            hovertemplate=f"%{{x}}<br>{name}: %{{y:.1%}} of %{{customdata}} customers<extra></extra>",
        ))
    _short_ticks(fig, [row.get("product") for row in rows])
    fig.update_yaxes(title_text="share of customers", tickformat=".0%", rangemode="tozero")
    fig.update_layout(barmode="group")
    return _layout(fig)


def traffic_by_month_figure(data: Any) -> go.Figure | None:
    """Visitors per month, one line per source, the biggest sources first in the legend."""
    rows = _rows(data)
    by_source: dict[str, dict[str, float | None]] = {}
    for row in rows:
        if row.get("month") is not None:
            by_source.setdefault(label(row.get("source")), {})[str(row["month"])] = number(row.get("visitors"))
    if not _any_number(*(list(months.values()) for months in by_source.values())):
        return None
    months = sorted({month for series in by_source.values() for month in series})
    order = sorted(by_source, key=lambda s: -sum(v for v in by_source[s].values() if v is not None))
    fig = go.Figure()
    for source in order:
        fig.add_trace(go.Scatter(
            x=months, y=[by_source[source].get(month) for month in months], name=_cut(source, LEGEND_LIMIT),
            mode="lines+markers",
            meta=source, hovertemplate="%{meta}<br>%{x}: %{y:,.0f} visitors<extra></extra>",
        ))
    fig.update_xaxes(title_text="month")
    fig.update_yaxes(title_text="visitors", tickformat=",.0f", rangemode="tozero")
    return _layout(fig)


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("journey", "The journey and its losses",
              "How many people reached each stage, and how many were lost there.",
              "visits, opt-ins, sales contacts and purchases under one entity_id", journey_figure),
    ChartSpec("cohort_curves", "Cumulative conversion by cohort",
              "Share of each month's new leads that has bought, by days since opt-in. Recent cohorts stop "
              "early: they are not counted as losses (censoring).",
              "opt-ins and purchases for the same entity_id", cohort_curves_figure),
    ChartSpec("time_to_purchase", "Time to purchase",
              "Days from opt-in to first purchase, for the leads who bought.",
              "opt-in and purchase events with their timestamps", time_to_purchase_figure),
    ChartSpec("source_quality", "Source quality",
              "Leads and customers each source brings, against what is spent on it.",
              "a source property on visits and opt-ins, and marketing spend per source", source_quality_figure),
    ChartSpec("refunds_by_product", "Refunds, returns and complaints by product",
              "Share of each product's customers who asked for a refund, returned it or complained.",
              "refund, return and complaint events with a product property", refunds_figure),
    ChartSpec("traffic_by_month", "Traffic by source per month",
              "Visitors per month from each source: consistent sources show up every month.",
              "visits with a source property", traffic_by_month_figure),
)


def build_charts(charts: Any) -> list[RenderedChart]:
    """Every chart of the report, in report order, drawn from the audit document's ``charts`` part."""
    data = charts if isinstance(charts, Mapping) else {}
    rendered = []
    for spec in CHARTS:
        figure = spec.build(data.get(spec.key))
        rendered.append(RenderedChart(spec.key, spec.title, spec.caption, spec.track,
                                      None if figure is None else figure.to_json()))
    return rendered
