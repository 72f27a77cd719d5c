"""Stage 2, lead capture: captures per product, opt-in rate = opt-ins / visitors exposed, sales per capture."""

from __future__ import annotations

import pytest

from audit_support import audit, by, config, many, question

GUIDE = {"capture": "guide", "product": "course"}
WEBINAR = {"capture": "webinar", "product": "course"}
COACHING = {"capture": "guide", "product": "coaching"}


def journeys() -> dict[str, list[tuple]]:
    j = many("g", 10, [("visit", "1d", GUIDE)]) | many("w", 20, [("visit", "2d", WEBINAR)])
    j |= many("c", 2, [("visit", "3d", COACHING)])
    for i in range(3):
        j[f"g{i}"].append(("optin", "5d", GUIDE))
    j["g0"].append(("purchase", "30d", {"product": "course", "revenue": 500}))
    j["w0"] += [("optin", "6d", WEBINAR), ("purchase", "20d", {"product": "course", "revenue": 500})]
    j["c0"].append(("optin", "7d", COACHING))
    return j


@pytest.fixture
def doc(store):
    return audit(store, journeys(), as_of=200, journey=config(conversion_horizon_months=3))


def test_capture_mechanisms_per_product(doc):
    q = question(doc, "2.1")
    assert q["value"] == {"coaching": ["guide"], "course": ["guide", "webinar"]}
    assert "coaching: 1 (guide); course: 2 (guide, webinar)." in q["answer"]
    assert "Only one way to opt in for coaching" in q["answer"]


def test_optin_rate_is_optins_over_visitors_exposed(doc):
    q = question(doc, "2.2")
    rows = by(q["value"], "capture")
    assert (rows["guide"]["optins"], rows["guide"]["exposed"]) == (4, 12)
    assert rows["guide"]["optin_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert (rows["webinar"]["optins"], rows["webinar"]["exposed"], rows["webinar"]["optin_rate"]) == (1, 20, 0.05)
    assert q["value"][0]["capture"] == "guide" and "Weakest: webinar." in q["answer"]
    assert "webinar: 1 opt-ins / 20 visitors shown it = 5.0%" in q["how"]


def test_sales_conversion_per_capture(doc):
    q = question(doc, "2.3")
    rows = by(q["value"], "capture")
    assert (rows["guide"]["leads"], rows["guide"]["converted_leads"]) == (4, 1)
    assert rows["guide"]["lead_to_customer"] == pytest.approx(0.25) and rows["guide"]["conversion_to_date"] == 0.25
    assert rows["webinar"]["lead_to_customer"] == pytest.approx(1.0)
    assert "webinar 100.0%, guide 25.0%" in q["answer"]
    assert "Kaplan–Meier over 4 leads" in rows["guide"]["how"]


def test_optin_rate_needs_captures_on_visits(store):
    doc = audit(store, many("x", 3, [("visit", "1d"), ("optin", "2d", GUIDE)]), as_of=30)
    q = question(doc, "2.2")
    assert q["status"] == "unknown" and "`capture` property on `visit` events" in q["track"]
    assert question(doc, "2.1")["status"] == "answered"
