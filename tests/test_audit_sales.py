"""Stage 4, sales: playbooks per lead type, lead-to-customer conversion per type, and the sales cycle."""

from __future__ import annotations

import pytest

from audit_support import audit, by, config, many, question


def journeys() -> dict[str, list[tuple]]:
    smb = many("s", 10, [("optin", "0d", {"lead_type": "smb"}), ("sales_call", "5d", {"outcome": "follow_up"})])
    for i in range(5):
        smb[f"s{i}"] += [("sales_call", "20d", {"outcome": "won"}), ("purchase", f"{30 + i}d", {"revenue": 100})]
    consumer = many("c", 10, [("optin", "0d", {"lead_type": "consumer"})])
    consumer["c0"].append(("purchase", "50d", {"revenue": 100}))
    partner = {"p": [("optin", "0d"), ("purchase", "70d", {"revenue": 100, "lead_type": "partner"})],
               "e": [("optin", "0d"), ("purchase", "80d", {"revenue": 100})]}
    return smb | consumer | partner


@pytest.fixture
def doc(store):
    playbooks = {"smb": "discovery call", "enterprise": "three calls"}
    return audit(store, journeys(), as_of=200, journey=config(playbooks=playbooks, conversion_horizon_months=3))


def test_playbook_per_lead_type(doc):
    q = question(doc, "4.1")
    v = q["value"]
    assert v["smb"]["playbook"] == "discovery call" and v["consumer"]["playbook"] is None
    assert v["smb"]["sales_contacts"] == 15 and v["smb"]["outcomes"] == {"follow_up": 10, "won": 5}
    assert v["smb"]["leads"] == 10 and v["smb"]["customers"] == 5
    assert v["partner"]["playbook"] is None and v["partner"]["customers"] == 1
    assert "1 of 3 lead types have a playbook in journey.yaml; none for consumer, partner." in q["answer"]
    assert "Playbooks for lead types not in the data: enterprise." in q["answer"]


def test_lead_to_customer_per_lead_type_and_after_a_sales_contact(doc):
    q = question(doc, "4.2")
    v = q["value"]
    assert (v["leads"], v["converted_leads"]) == (22, 8)
    assert v["conversion_to_date"] == pytest.approx(8 / 22)
    rows = by(v["by_lead_type"], "lead_type")
    assert rows["smb"]["lead_to_customer"] == pytest.approx(0.5)
    assert rows["consumer"]["lead_to_customer"] == pytest.approx(0.1)
    assert set(rows) == {"smb", "consumer"}  # a type known only on the purchase says nothing of conversion
    assert v["sales_contact_to_customer"] == pytest.approx(0.5)
    assert "8 of 22 leads of the period (36.4%) have bought so far" in q["answer"]
    assert "smb 50.0% within 3 months" in q["answer"]


def test_sales_cycle_per_lead_type(doc):
    q = question(doc, "4.3")
    overall = q["value"]["overall"]
    assert overall["deals"] == 8
    days = sorted([30, 31, 32, 33, 34, 50, 70, 80])
    assert overall["median_days"] == (days[3] + days[4]) / 2 and overall["mean_days"] == pytest.approx(sum(days) / 8)
    rows = by(q["value"]["by_lead_type"], "lead_type")
    assert rows["smb"]["median_days"] == 32 and rows["smb"]["mean_days"] == 32 and rows["smb"]["deals"] == 5
    assert rows["consumer"]["median_days"] == 50
    assert rows["partner"]["median_days"] == 70  # the lead type on the purchase
    assert rows["(empty)"]["median_days"] == 80  # no lead type anywhere: its own bucket
    assert "median of 33.5 days and a mean of 45 days over 8 deals" in q["answer"]


def test_leads_and_customers_by_month(doc):
    by_month = question(doc, "4.2")["value"]["by_month"]
    assert len(by_month) == 12 and by_month[-1]["month"] == "2024-07"
    months = by(by_month, "month")
    assert months["2024-01"]["leads"] == 22
    assert (months["2024-01"]["customers"], months["2024-02"]["customers"], months["2024-03"]["customers"]) == (1, 5, 2)
    assert months["2024-03"]["revenue"] == 200 and months["2023-08"]["leads"] == 0
