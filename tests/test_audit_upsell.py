"""Stage 6, upsell: offers and second products, censored upsell conversion, price and effect on value."""

from __future__ import annotations

import pytest

from audit_support import audit, by, many, question


@pytest.fixture
def doc(store):
    j = many("u", 10, [("optin", "0d"), ("purchase", "0d", {"product": "course", "revenue": 100})])
    for i in range(5):
        j[f"u{i}"].append(("upsell_offer", "10d", {"product": "adv"}))
    for i in range(2):
        j[f"u{i}"].append(("upsell_purchase", "20d", {"product": "adv", "revenue": 50}))
    return audit(store, j, as_of=400, months=24)


def test_offers_and_products_bought_second(doc):
    q = question(doc, "6.1")
    v = q["value"]
    assert v["offers"] == [{"product": "adv", "offers": 5, "customers": 5}]
    assert v["offered_share"] == 0.5 and v["second_products"] == [{"product": "adv", "customers": 2}]
    assert "50.0% of the period's customers were offered an upsell" in q["answer"]


def test_upsell_conversion_is_censored(doc):
    q = question(doc, "6.2")
    rows = by(q["value"]["horizons"], "horizon_months")
    assert rows[3]["conversion"] == pytest.approx(0.2) and rows[12]["conversion"] == pytest.approx(0.2)
    assert rows[18]["conversion"] is None  # nobody followed 18 months after buying yet
    assert q["value"]["offer_to_purchase"] == pytest.approx(0.4)
    assert "Of customers offered one, 40.0% buy within 12 months." in q["answer"]


def test_upsell_price_lifetime_value_and_lead_value_effect(doc):
    q = question(doc, "6.3")
    v = q["value"]
    assert (v["avg_upsell_price"], v["upsell_purchases"]) == (50, 2)
    assert v["ltv_without"] == 100 and v["ltv_with"] == pytest.approx(110)
    assert v["lead_value_effect"] == pytest.approx(10)  # every lead bought: 1.0 x (110 - 100)
    upsell = doc["economics"]["upsell"]
    assert (upsell["ltv_without"], upsell["ltv_with"], upsell["lead_value_effect"]) == (
        100, pytest.approx(110), pytest.approx(10))
    assert "100.00 + 0.2000 × 50.00 = 110.00" in upsell["how"]  # no currency in the data: no sign
    assert "1.0000 × 10.00 = 10.00" in upsell["how"]


def test_the_journey_chart_counts_upsell_buyers_against_customers(doc):
    journey = {row["stage"]: row for row in doc["charts"]["journey"]}
    assert list(journey) == ["Leads", "Customers", "Upsell buyers"]
    assert journey["Leads"]["lost"] is None and journey["Customers"] == {"stage": "Customers", "count": 10, "lost": 0}
    assert journey["Upsell buyers"] == {"stage": "Upsell buyers", "count": 2, "lost": 8}
