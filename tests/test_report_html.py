"""The HTML audit report: structure, escaping, self-containment, the unknown paths."""

from __future__ import annotations

import copy
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from buyerjourney.errors import InputError
from buyerjourney.report import render_audit_html, write_audit_html
from buyerjourney.report.charts import CHARTS

EVIL = '<script>alert("pwned")</script>'
EVIL_SOURCE = f"partner {EVIL}"
CHART_KEYS = [spec.key for spec in CHARTS]
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]

QUESTIONS = {
    1: ("Traffic", ["How many distinct, consistent traffic sources are there?",
                    "How much traffic does each source bring per month?",
                    "What is the quality of each source, in leads and sales?"]),
    2: ("Lead capture", ["How many capture mechanisms does each product have?",
                         "What is the opt-in rate of each capture?",
                         "What is the sales conversion of each capture?"]),
    3: ("Prospect follow-up", ["What share of leads buy, and when?",
                               "How long are leads on the list before buying?",
                               "What is the average purchase price?"]),
    4: ("Sales", ["Which lead types have a sales playbook?",
                  "What is the lead-to-customer conversion per lead type?",
                  "How long is the sales cycle?"]),
    5: ("Delivery", ["How are customers impressed after buying?",
                     "How are testimonials collected?",
                     "What are the return, refund and complaint rates?"]),
    6: ("Upsell", ["Which extra offers exist?",
                   "What is the upsell conversion?",
                   "What is the average upsell price and its effect on lifetime value?"]),
    7: ("Referral", ["Is there a referral system?",
                     "What is the referral conversion?",
                     "What is a referral worth, and the most to spend on one?"]),
}
UNKNOWN_IDS = {"2.1", "5.2", "7.1", "7.3"}


def _question(stage: int, index: int, text: str) -> dict[str, Any]:
    qid = f"{stage}.{index + 1}"
    if qid in UNKNOWN_IDS:
        return {"id": qid, "question": text, "status": "unknown",
                "answer": "The data has no events that can answer this.", "value": None, "how": None,
                "track": f"an event for question {qid} (e.g. testimonial_received with a product property)"}
    values: dict[str, Any] = {
        "1.1": {"sources": 5, "consistent": ["google", "newsletter", "facebook"], "top_share": 0.46, "hhi": 0.29},
        "1.3": {EVIL_SOURCE: {"leads_per_visitor": 0.02, "sales_per_visitor": 0.001}},
        "3.1": 0.094, "3.2": 96.5, "3.3": 512.4, "4.3": 41, "6.2": 0.12, "7.2": 0.3,
    }
    return {"id": qid, "question": text, "status": "answered",
            "answer": f"Answer to {qid}: computed from 48,210 leads in 12 monthly cohorts.",
            "value": values.get(qid, 0.25 + index / 10),
            "how": f"q{qid}: purchases within horizon / leads = 4,532 / 48,210",
            "track": None}


def _cohort(month_index: int) -> dict[str, Any]:
    observed = 30 * (12 - month_index)  # a recent cohort is seen for fewer days (censored)
    days = list(range(0, observed + 1, 15))
    return {"cohort": MONTHS[month_index], "days": days,
            "conversion": [round((0.09 + 0.005 * month_index) * (1 - math.exp(-d / (150 - 6 * month_index))), 4)
                           for d in days]}


def sample_audit_doc() -> dict[str, Any]:
    """A realistic audit document following the contract, with unknown answers and one empty chart."""
    sources = ["google", "newsletter", "facebook", "podcast", EVIL_SOURCE]
    return {
        "generated_at": "2025-01-03T09:15:00+00:00",
        "as_of": "2024-12-31",
        "store": "Northwind Roasters <demo>",
        "period": {"months": 12, "start": "2024-01-01", "end": "2024-12-31"},
        "fix_first": "Ask every customer for a referral: only 12% are asked, so 38 customers a month go unreferred "
                     "and 4,100 of promotion spend a month is wasted downstream. Then call buyers within a week.",
        "stages": [{"id": sid, "name": name, "questions": [_question(sid, i, text) for i, text in enumerate(texts)]}
                   for sid, (name, texts) in QUESTIONS.items()],
        "leaks": [
            {"rank": 2, "stage_id": 6, "from": "customer", "to": "upsell", "conversion": 0.12, "target": 0.25,
             "gap": 0.13, "customers_lost_per_month": 21, "revenue_lost_per_month": 6300.0,
             "promotion_spend_wasted_per_month": 2150.5,
             "how": "(0.25 - 0.12) x 161 customers/month x 300 upsell price"},
            {"rank": 1, "stage_id": 7, "from": "customer", "to": "referral", "conversion": 0.05, "target": 0.3,
             "gap": 0.25, "customers_lost_per_month": 38, "revenue_lost_per_month": 19000.0,
             "promotion_spend_wasted_per_month": 4100.0, "how": "(0.30 - 0.05) x 152 customers/month x 500 price"},
            {"rank": 3, "stage_id": 3, "from": "lead", "to": "customer", "conversion": 0.094, "target": 0.1,
             "gap": 0.006, "customers_lost_per_month": None, "revenue_lost_per_month": None,
             "promotion_spend_wasted_per_month": None, "how": "target not met; monthly loss unknown (no revenue)"},
        ],
        "economics": {
            "margin": 0.6,
            "lead_value": [
                {"horizon_months": h, "conversion": c, "avg_price": 500.0, "value": c * 500.0,
                 "max_cost_per_lead": c * 500.0 * 0.6, "how": f"{c:.0%} bought within {h} months x 500 = {c * 500:.2f}"}
                for h, c in ((3, 0.1), (6, 0.14), (12, 0.19), (18, 0.22))],
            "referral": {"value": 750.0, "conversion": 0.3, "max_spend_per_referral": 225.0,
                         "how": "750 value x 30% referrals who buy = 225"},
            "upsell": {"ltv_without": 500.0, "ltv_with": 536.0, "lead_value_effect": 3.6,
                       "how": "12% take an upsell at 300: 500 + 0.12 x 300 = 536 per customer"},
            "sources": [
                {"source": s, "visitors": 40_000 - 7000 * i, "leads": 900 - 150 * i, "customers": 90 - 14 * i,
                 "revenue": (90 - 14 * i) * 500.0, "spend": None if s == "newsletter" else 9000.0 - 1500 * i,
                 "cost_per_lead": None if s == "newsletter" else (9000.0 - 1500 * i) / (900 - 150 * i),
                 "cost_per_customer": None if s == "newsletter" else (9000.0 - 1500 * i) / (90 - 14 * i),
                 "return_on_spend": None if s == "newsletter" else (90 - 14 * i) * 500.0 / (9000.0 - 1500 * i)}
                for i, s in enumerate(sources)],
        },
        "charts": {
            "journey": [{"stage": stage, "count": count, "lost": lost} for stage, count, lost in (
                ("Traffic", 120_000, None), ("Lead capture", 4_800, 115_200), ("Follow-up", 3_100, 1_700),
                ("Sales", 452, 2_648), ("Delivery", 440, 12), ("Upsell", 53, 387), ("Referral", 22, 418))],
            "cohort_curves": [_cohort(m) for m in range(12)],
            "time_to_purchase": {"bin_edges_days": [0, 7, 30, 90, 180, 365, 540], "counts": [40, 85, 120, 140, 52, 15]},
            "source_quality": [{"source": s, "visitors": 40_000 - 7000 * i, "leads": 900 - 150 * i,
                                "customers": 90 - 14 * i, "spend": None if s == "newsletter" else 9000.0 - 1500 * i}
                               for i, s in enumerate(sources)],
            "refunds_by_product": [],
            "traffic_by_month": [{"month": month, "source": s, "visitors": 3000 - 500 * i + 40 * m}
                                 for m, month in enumerate(MONTHS) for i, s in enumerate(sources)
                                 if not (s == "podcast" and m < 6)],
        },
    }


def all_unknown_doc() -> dict[str, Any]:
    """The document an audit gives on a store with (almost) no data: nulls and empty charts everywhere."""
    doc = sample_audit_doc()
    for stage in doc["stages"]:
        for q in stage["questions"]:
            q.update(status="unknown", value=None, how=None, answer="Unknown.", track=f"events for {q['id']}")
    doc.update(fix_first=None, leaks=[], as_of=None)
    doc["economics"] = {"margin": None, "lead_value": [], "referral": None, "upsell": None, "sources": []}
    doc["charts"] = {key: [] for key in CHART_KEYS} | {"time_to_purchase": {"bin_edges_days": [], "counts": []}}
    return doc


@pytest.fixture
def doc() -> dict[str, Any]:
    return sample_audit_doc()


@pytest.fixture
def page(doc) -> str:
    return render_audit_html(doc)


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _chart_block(page: str, key: str) -> str:
    match = re.search(rf'<figure[^>]*data-chart="{key}".*?</figure>', page, re.S)
    assert match, f"no chart container for {key}"
    return match.group(0)


def test_page_has_header_fix_first_and_sections_in_order(page):
    assert page.startswith("<!doctype html>")
    assert "Northwind Roasters &lt;demo&gt;" in page
    assert "2024-01-01 to 2024-12-31" in page and "12 months" in page
    order = [page.index(f'id="{anchor}"') for anchor in ("fix-first", "leaks", "charts", "economics", "questions")]
    assert order == sorted(order)
    assert "Ask every customer for a referral" in page[order[0]:order[1]]
    assert "17 of 21 questions answered" in page


def test_all_21_questions_with_badges_and_how(page):
    articles = re.findall(r'<article class="card question[^"]*" data-question="([\d.]+)"\s+data-status="(\w+)"', page)
    assert [qid for qid, _ in articles] == [f"{s}.{i}" for s in range(1, 8) for i in range(1, 4)]
    assert {qid for qid, status in articles if status == "unknown"} == UNKNOWN_IDS
    assert page.count('class="badge answered"') == 17 and page.count('class="badge unknown-badge"') == 4
    assert "Start tracking:</b> an event for question 5.2" in page
    assert "q3.1: purchases within horizon / leads = 4,532 / 48,210" in page
    for sid, (name, _) in QUESTIONS.items():
        assert f'data-stage="{sid}"' in page and name in page


def test_question_values_are_formatted_or_shown_as_json(page):
    assert '<p class="q-value">512.40</p>' in page  # 3.3 average price
    assert '<p class="q-value">0.094</p>' in page
    assert "&#34;hhi&#34;: 0.29" in page  # 1.1's object value in the details block


def test_leaks_are_ranked_with_money_lost_and_spend_wasted(page):
    ranks = re.findall(r'data-leak-rank="(\d+)"', page)
    assert ranks == ["1", "2", "3"]
    table = page[page.index('<table class="leaks">'):page.index("</table>")]
    first = table[table.index('data-leak-rank="1"'):table.index('data-leak-rank="2"')]
    assert "customer → referral" in first and "stage 7 · Referral" in first
    assert "5.0%" in first and "30.0%" in first and "25.0 pp" in first
    assert ">19,000<" in first and ">4,100<" in first and "(0.30 - 0.05) x 152" in first
    third = table[table.index('data-leak-rank="3"'):]
    assert third.count('<span class="unknown">unknown</span>') == 3


def test_economics_cards(page):
    section = page[page.index('id="economics"'):page.index('id="questions"')]
    assert "gross margin of 60.0%" in section
    assert [int(h) for h in re.findall(r"Lead value · (\d+) months", section)] == [3, 6, 12, 18]
    assert ">50.00<" in section and "Pay at most <b>30.00</b> per lead" in section
    assert "Spend at most <b>225.00</b> per referral" in section and "750 value x 30%" in section
    assert "+3.60" in section and "500.00 without upsell → 536.00 with" in section
    assert "return on spend" in section and ">5.0×<" in section


def test_every_chart_has_a_container_and_the_empty_one_says_what_to_track(page):
    for key in CHART_KEYS:
        block = _chart_block(page, key)
        if key == "refunds_by_product":
            assert 'data-state="empty"' in block and "No data:</strong> start tracking refund, return" in block
            assert "figure-data" not in block
        else:
            assert 'data-state="plotted"' in block and 'class="plot"' in block
            figure = json.loads(re.search(r'class="figure-data">(.*?)</script>', block, re.S).group(1))
            assert figure["data"], key


def test_figures_carry_the_documents_numbers(page):
    figures = {key: json.loads(re.search(r'class="figure-data">(.*?)</script>', _chart_block(page, key), re.S)
                               .group(1)) for key in CHART_KEYS if key != "refunds_by_product"}
    journey = figures["journey"]["data"]
    assert journey[0]["x"][:2] == [120_000, 4_800] and journey[1]["x"][:2] == [None, 115_200]
    assert len(figures["cohort_curves"]["data"]) == 12
    assert figures["cohort_curves"]["data"][-1]["x"] == [0, 15, 30]  # the newest cohort is censored at 30 days
    assert figures["time_to_purchase"]["data"][0]["x"][0] == "0–7"
    assert figures["time_to_purchase"]["data"][0]["y"] == [40, 85, 120, 140, 52, 15]
    assert [t["name"] for t in figures["source_quality"]["data"]] == ["leads", "customers", "spend"]
    traffic = {t["name"]: t for t in figures["traffic_by_month"]["data"]}
    assert next(iter(traffic)) == "google" and traffic["podcast"]["y"][:6] == [None] * 6


def test_user_text_is_escaped_everywhere(doc):
    doc["stages"][0]["questions"][0]["answer"] = EVIL
    doc["stages"][0]["name"] = EVIL
    doc["fix_first"] = EVIL
    doc["leaks"][0]["how"] = EVIL
    page = render_audit_html(doc)
    assert EVIL not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
    parsed = _parse(page)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert len(scripts) == 2 + 5  # plotly.js, the loader, and one JSON block per plotted chart
    assert all("<" not in text for text in parsed.scripts[1:-1])  # figure JSON: every "<" is written \u003c
    # in the figures the name is escaped for Plotly's pseudo-HTML, and the JSON cannot close its script
    source_quality = _chart_block(page, "source_quality")
    label = json.loads(re.search(r'class="figure-data">(.*?)</script>', source_quality, re.S).group(1))
    assert label["data"][0]["x"][-1] == "partner &lt;script&gt;alert(\"pwned\")&lt;/script&gt;"


def test_page_is_self_contained(page):
    parsed = _parse(page)
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value, re.I), f"<{tag} {name}={value!r}> reaches the network"
        assert tag != "link", "no external stylesheet"
    assert not any(attrs.get("src") for tag, attrs in parsed.tags if tag == "script")
    assert page.count("plotly.js v") == 1  # plotly.js inlined exactly once
    assert len(parsed.scripts[0]) > 1_000_000


def test_all_unknown_document_renders_notes_not_charts():
    page = render_audit_html(all_unknown_doc())
    assert "0 of 21 questions answered" in page
    assert page.count('data-state="empty"') == len(CHART_KEYS) and 'class="figure-data"' not in page
    assert "No leaks ranked" in page and "No leak below target was found" in page
    assert "Start tracking opt-ins and purchases" in page
    assert page.count('<span class="unknown">unknown</span>') >= 6
    assert page.count('data-status="unknown"') == 21


def test_missing_parts_and_bad_values_do_not_break_the_page():
    page = render_audit_html({"stages": [{"id": 1, "name": "Traffic", "questions": [
        {"id": "1.1", "question": "Sources?", "status": "answered", "answer": "Two.", "value": float("nan")}]}],
        "charts": {"journey": [{"stage": "Traffic", "count": "many", "lost": None}]}})
    assert "1 of 1 questions answered" in page
    assert 'data-chart="journey"' in page and page.count('data-state="empty"') == len(CHART_KEYS)


@pytest.mark.parametrize("bad", [None, [], "report"])
def test_a_document_that_is_not_an_object_is_refused(bad):
    with pytest.raises(InputError, match="must be a JSON object"):
        render_audit_html(bad)


def test_misaligned_chart_columns_are_refused(doc):
    doc["charts"]["time_to_purchase"]["counts"].append(3)
    with pytest.raises(InputError, match="time_to_purchase: 7 bin edges for 7 counts"):
        render_audit_html(doc)
    doc = sample_audit_doc()
    doc["charts"]["cohort_curves"][0]["conversion"].pop()
    with pytest.raises(InputError, match=r"cohort_curves\[0\]"):
        render_audit_html(doc)


def test_write_audit_html_writes_the_rendered_page(doc, tmp_path: Path):
    target = write_audit_html(doc, tmp_path / "out" / "report.html")
    assert target == tmp_path / "out" / "report.html"
    assert target.read_text(encoding="utf-8") == render_audit_html(doc)
    before = copy.deepcopy(doc)
    write_audit_html(doc, str(target))
    assert doc == before  # rendering does not change the document


def test_write_audit_html_reports_an_unwritable_path(doc, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write the report"):
        write_audit_html(doc, blocker / "report.html")
