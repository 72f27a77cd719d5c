"""Stage 3, follow-up: censored lead-to-sale conversion, time on the list, price, and lead value per horizon."""

from __future__ import annotations

import pytest

from audit_support import audit, by, config, many, question


def test_seed_example_ten_percent_buy_500_within_3_months_is_50_a_lead(store):
    journeys = many("lead", 10, [("optin", "0d")])
    journeys["lead0"].append(("purchase", "30d", {"revenue": 500, "currency": "USD"}))
    doc = audit(store, journeys, as_of=200, journey=config(gross_margin=0.6))
    values = by(doc["economics"]["lead_value"], "horizon_months")
    three = values[3]
    assert three["conversion"] == pytest.approx(0.1) and three["avg_price"] == 500
    assert three["value"] == pytest.approx(50) and three["max_cost_per_lead"] == pytest.approx(30)
    assert "0.1000 × $500.00 = $50.00" in three["how"] and "gross margin 60% = $30.00" in three["how"]
    assert values[6]["value"] == pytest.approx(50)
    assert values[12]["conversion"] is None and values[12]["value"] is None  # nobody followed a year yet
    assert "no lead has been on the list 12 months" in values[12]["how"]
    q = question(doc, "3.1")
    assert [h["conversion"] for h in q["value"]["horizons"]][:2] == [pytest.approx(0.1), pytest.approx(0.1)]
    assert "Of 10 leads, 10.0% buy within 3 months, 10.0% buy within 6 months." in q["answer"]


def test_recent_leads_are_censored_not_lost(store):
    old = many("old", 10, [("optin", "0d")])
    for i in range(2):
        old[f"old{i}"].append(("purchase", "60d", {"revenue": 100}))
    recent = many("new", 10, [("optin", "330d")])  # joined 30 days before the audit: not failures
    doc = audit(store, old | recent, as_of=360, journey=config(conversion_horizon_months=3))
    q = question(doc, "3.1")
    three = q["value"]["horizons"][0]
    assert three["horizon_months"] == 3
    assert three["conversion"] == pytest.approx(0.2)  # 2 of the 10 old leads, not 2 of 20
    assert question(doc, "4.2")["value"]["conversion_to_date"] == pytest.approx(0.1)  # the naive figure, shown apart
    assert question(doc, "4.2")["value"]["lead_to_customer"] == pytest.approx(0.2)
    assert by(doc["economics"]["lead_value"], "horizon_months")[3]["value"] == pytest.approx(20)
    curves = by(doc["charts"]["cohort_curves"], "cohort")
    assert curves["2024-01"]["conversion"][-1] == pytest.approx(0.2)
    assert curves["2024-11"]["days"][-1] == 30 and max(curves["2024-11"]["conversion"]) == 0
    assert not doc["leaks"] or all(leak["metric"] != "lead_to_customer" for leak in doc["leaks"])


def test_time_on_the_list(store):
    journeys = many("l", 4, [("optin", "0d")])
    for i, days in enumerate((10, 100, 200, 700)):
        journeys[f"l{i}"].append(("purchase", f"{days}d", {"revenue": 100}))
    doc = audit(store, journeys, as_of=720, months=24)
    q = question(doc, "3.2")
    v = q["value"]
    assert (v["buyers"], v["median_days"], v["mean_days"]) == (4, 150, 252.5)
    assert (v["share_within_3_months"], v["share_3_to_18_months"], v["share_after_18_months"]) == (0.25, 0.5, 0.25)
    assert "median of 150 days (mean 252.5)" in q["answer"]
    assert "3–18 months = 2 / 4" in q["how"]
    hist = doc["charts"]["time_to_purchase"]
    assert sum(hist["counts"]) == 4 and hist["bin_edges_days"][0] == 0 and hist["bin_edges_days"][-1] == 701


def test_average_purchase_price(store):
    journeys = {"a": [("optin", "0d"), ("purchase", "5d", {"product": "course", "revenue": 500, "currency": "EUR"})],
                "b": [("optin", "0d"), ("purchase", "5d", {"product": "course", "revenue": "300"})],
                "c": [("optin", "0d"), ("purchase", "9d", {"product": "coaching", "revenue": 2000})],
                "d": [("optin", "0d"), ("purchase", "9d", {"product": "coaching"})]}  # no revenue: not averaged
    q = question(audit(store, journeys, as_of=30), "3.3")
    assert q["value"]["avg_price"] == pytest.approx(2800 / 3) and q["value"]["with_revenue"] == 3
    assert q["value"]["purchases"] == 4
    assert by(q["value"]["by_product"], "product")["course"]["avg_price"] == 400
    assert "€2,800.00 / 3 = €933.33" in q["how"]


def test_nurture_share(store):
    journeys = many("n", 3, [("optin", "0d"), ("email_open", "2d")]) | many("q", 1, [("optin", "0d")])
    journeys["n0"].append(("purchase", "9d", {"revenue": 10}))
    q = question(audit(store, journeys, as_of=100), "3.1")
    assert q["value"]["nurtured_share"] == 0.75 and "75.0% of the period's leads got a follow-up touch" in q["answer"]
