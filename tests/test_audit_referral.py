"""Stage 7, referral: asked and referring customers, referral conversion, value and most to spend."""

from __future__ import annotations

import pytest

from audit_support import audit, many, question


@pytest.fixture
def doc(store):
    j = many("cust", 4, [("optin", "0d"), ("purchase", "5d", {"revenue": 750, "currency": "USD"})])
    j["cust0"].append(("referral_request", "10d"))
    j["cust1"].append(("referral_request", "10d"))
    for i in range(10):  # cust0 refers 6 people, cust1 refers 4; three of the ten buy for $750
        referrer = "cust0" if i < 6 else "cust1"
        j[f"ref{i}"] = [("optin", "20d", {"referrer_id": referrer, "source": "referral"})]
    for i in (0, 3, 7):
        j[f"ref{i}"].append(("purchase", "60d", {"revenue": 750}))
    j |= many("plain", 10, [("optin", "0d")])
    j["plain0"].append(("purchase", "90d", {"revenue": 750}))
    return audit(store, j, as_of=500, months=24)


def test_referral_system(doc):
    q = question(doc, "7.1")
    v = q["value"]
    assert (v["customers"], v["asked"], v["referrers"]) == (8, 2, 2)
    assert v["asked_share"] == 0.25 and v["referrer_share"] == 0.25
    assert v["referred_leads"] == 10 and v["referrals_per_referrer"] == 5


def test_referral_conversion_against_other_leads(doc):
    q = question(doc, "7.2")
    assert q["value"]["conversion"] == pytest.approx(0.3)
    assert q["value"]["other_leads_conversion"] == pytest.approx(5 / 14)  # 4 first customers + plain0 of 14 leads
    assert "30.0% of referred leads buy within 12 months" in q["answer"]


def test_seed_example_a_referral_worth_750_converting_30_percent_is_worth_225(doc):
    referral = doc["economics"]["referral"]
    assert referral["value"] == 750 and referral["conversion"] == pytest.approx(0.3)
    assert referral["max_spend_per_referral"] == pytest.approx(225)
    assert referral["max_spend_at_margin"] == pytest.approx(225 * 0.6)
    assert "$750.00 × 0.3000 = $225.00" in referral["how"]
    q = question(doc, "7.3")
    assert q["status"] == "answered" and q["value"]["max_spend_per_referral"] == pytest.approx(225)
    assert "a referral is worth up to $225.00" in q["answer"]
