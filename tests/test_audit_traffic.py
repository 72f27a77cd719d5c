"""Stage 1, traffic: distinct and consistent sources, concentration, traffic per month, source quality."""

from __future__ import annotations

from datetime import date

import pytest

from audit_support import audit, by, many, question

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]


def offset(month: int, hours: float = 0) -> str:
    """Offset from T0 (2024-01-01) to the 2nd of ``month`` 2024, plus ``hours``."""
    return f"{(date(2024, month, 2) - date(2024, 1, 1)).days}d{hours}h" if hours else \
        f"{(date(2024, month, 2) - date(2024, 1, 1)).days}d"


def traffic() -> dict[str, list[tuple]]:
    journeys: dict[str, list[tuple]] = {}
    for month in range(1, 13):
        for i in range(8):
            journeys[f"ads{month}_{i}"] = [("visit", offset(month, i), {"source": "ads"})]
        journeys[f"seo{month}"] = [("visit", offset(month, 9), {"source": "seo"})]
    for i in range(4):  # four January ads visitors opt in; one buys in March
        journeys[f"ads1_{i}"].append(("optin", offset(1, 10 + i), {"source": "ads"}))
    journeys["ads1_0"].append(("purchase", offset(3), {"revenue": 500, "currency": "USD"}))
    journeys["seo2"].append(("optin", offset(2, 12), {"source": "seo"}))
    # first touch wins: tv brought this lead, though its opt-in says seo
    journeys["tv1"] = [("visit", offset(1, 20), {"source": "tv"}), ("optin", offset(1, 21), {"source": "seo"})]
    journeys["tv2"] = [("visit", offset(2, 20), {"source": "tv"})]
    return journeys


@pytest.fixture
def doc(store):
    spend = [(date(2024, m, 1), "ads", 100.0) for m in range(1, 13)]
    return audit(store, traffic(), as_of=365, spend=spend)


def test_distinct_and_consistent_sources_with_a_concentration_warning(doc):
    q = question(doc, "1.1")
    assert q["status"] == "answered"
    v = q["value"]
    assert v["sources"] == 3 and v["consistent"] == ["ads", "seo"]
    assert v["active_months"] == {"ads": 12, "seo": 12, "tv": 2}
    assert v["top_source"] == "ads"
    assert v["top_share"] == pytest.approx(96 / 110, abs=1e-6)
    assert v["hhi"] == pytest.approx((100 * 96 / 110) ** 2 + (100 * 12 / 110) ** 2 + (100 * 2 / 110) ** 2, abs=1e-3)
    assert v["concentrated"] is True
    assert "Warning: traffic is concentrated: ads brings 87.3%" in q["answer"]
    assert "96 / 110 visitors = 87.3%" in q["how"] and "HHI" in q["how"]


def test_traffic_per_source_per_month(doc):
    v = question(doc, "1.2")["value"]
    assert v["months"] == MONTHS
    assert v["by_source"]["ads"] == [8] * 12
    assert v["by_source"]["seo"] == [1] * 12
    assert v["by_source"]["tv"] == [1, 1] + [0] * 10
    assert v["average_per_month"]["ads"] == 8
    assert doc["charts"]["traffic_by_month"][:2] == [{"month": "2024-01", "source": "ads", "visitors": 8},
                                                     {"month": "2024-01", "source": "seo", "visitors": 1}]


def test_source_quality_leads_sales_cost_and_return(doc):
    q = question(doc, "1.3")
    rows = by(q["value"], "source")
    ads = rows["ads"]
    assert (ads["visitors"], ads["leads"], ads["converted_leads"], ads["customers"]) == (96, 4, 1, 1)
    assert ads["conversion_to_date"] == 0.25
    assert ads["leads_per_visitor"] == pytest.approx(4 / 96, abs=1e-6)
    assert ads["spend"] == 1200 and ads["revenue"] == 500
    assert ads["cost_per_lead"] == 300 and ads["cost_per_customer"] == 1200
    assert ads["return_on_spend"] == pytest.approx(500 / 1200, abs=1e-6)
    assert "1 bought / 4 leads = 25.0%" in ads["how"] and "$1,200.00 / 4" in ads["how"]
    assert rows["tv"]["leads"] == 1 and rows["seo"]["leads"] == 1  # first touch: tv, not the opt-in's seo
    assert rows["tv"]["visitors"] == 2 and rows["tv"]["spend"] is None
    sources = by(doc["economics"]["sources"], "source")
    assert sources["ads"] == {"source": "ads", "visitors": 96, "leads": 4, "customers": 1, "revenue": 500.0,
                              "spend": 1200.0, "cost_per_lead": 300.0, "cost_per_customer": 1200.0,
                              "return_on_spend": pytest.approx(0.416667)}


def test_spread_traffic_gets_no_warning(store):
    journeys = {}
    for source in ("a", "b", "c", "d"):
        journeys |= many(f"{source}-", 5, [("visit", "40d", {"source": source})])
    v = question(audit(store, journeys, as_of=60), "1.1")["value"]
    assert v["top_share"] == 0.25 and v["hhi"] == pytest.approx(2500) and v["concentrated"] is False


def test_without_visits_sources_are_measured_on_leads(store):
    journeys = many("o", 3, [("optin", "10d", {"source": "organic"})]) | {"p": [("optin", "40d", {"source": "paid"})]}
    doc = audit(store, journeys, as_of=60)
    q11 = question(doc, "1.1")
    assert q11["status"] == "answered" and q11["value"]["basis"] == "leads" and q11["value"]["sources"] == 2
    assert "visit" in q11["track"]
    q12 = question(doc, "1.2")
    assert q12["status"] == "unknown" and "`visit`" in q12["track"]


def test_anonymous_visits_before_the_optin_give_the_lead_its_source(store):
    extra = [{"anonymous_id": "anon-1", "event": "visit", "ts": "2024-01-05T10:00:00+00:00",
              "properties": {"source": "newsletter_swap", "capture": "guide"}},
             {"entity_id": "ann@example.com", "anonymous_id": "anon-1", "event": "optin",
              "ts": "2024-01-07T10:00:00+00:00", "properties": {"capture": "guide"}},
             {"entity_id": "ann@example.com", "event": "purchase", "ts": "2024-02-01T10:00:00+00:00",
              "properties": {"revenue": 90}}]
    doc = audit(store, {}, as_of=100, extra=extra)
    rows = by(question(doc, "1.3")["value"], "source")
    assert set(rows) == {"newsletter_swap"}
    assert (rows["newsletter_swap"]["visitors"], rows["newsletter_swap"]["leads"],
            rows["newsletter_swap"]["customers"], rows["newsletter_swap"]["revenue"]) == (1, 1, 1, 90)
