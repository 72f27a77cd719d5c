"""Stage 5, delivery: wow touches, testimonials, and refund / return / complaint rates per product."""

from __future__ import annotations

import pytest

from audit_support import audit, by, many, question

COURSE = {"product": "course", "revenue": 100}


def journeys() -> dict[str, list[tuple]]:
    j = many("c", 10, [("optin", "0d"), ("purchase", "10d", COURSE)])
    j |= many("d", 5, [("optin", "0d"), ("purchase", "10d", {"product": "coaching", "revenue": 2000})])
    for name, kind in (("c0", "call"), ("c1", "call"), ("c2", "card"), ("c3", "gift")):
        j[name].append(("thank_you", "11d", {"kind": kind}))
    for name in ("c0", "c4", "c6"):
        j[name].append(("refund", "20d", {"product": "course", "revenue": -100}))
    j["c5"].append(("refund", "21d"))  # no product: counts for the customer's product
    j["d0"].append(("refund", "22d", {"product": "coaching", "amount": 2000}))
    for name in ("c1", "c2", "c7"):
        j[name].append(("testimonial", "40d"))
    j["c8"].append(("return", "25d", {"product": "course"}))
    j["c4"].append(("complaint", "19d", {"product": "course"}))
    return j


@pytest.fixture
def doc(store):
    return audit(store, journeys(), as_of=100)


def test_wow_touches_and_refunds_with_and_without(doc):
    q = question(doc, "5.1")
    v = q["value"]
    assert (v["customers"], v["wow_customers"]) == (15, 4)
    assert v["wow_share"] == pytest.approx(4 / 15)
    assert v["by_kind"] == {"call": 2, "card": 1, "gift": 1}
    assert v["refund_rate_with_wow"] == 0.25 and v["refund_rate_without_wow"] == pytest.approx(4 / 11)
    assert "1 refunded / 4 wow-touched = 25.0%" in q["how"] and "4 refunded / 11 not touched" in q["how"]


def test_testimonial_rate(doc):
    q = question(doc, "5.2")
    v = q["value"]
    assert (v["testimonials"], v["testimonial_rate"]) == (3, 0.2)
    assert v["rate_with_wow"] == 0.5 and v["rate_without_wow"] == pytest.approx(1 / 11)
    assert q["answer"] == "20.0% of customers gave a testimonial: 50.0% after a wow touch, 9.1% without one."


def test_refund_return_and_complaint_rates_per_product(doc):
    q = question(doc, "5.3")
    v = q["value"]
    assert v["refund_rate"] == pytest.approx(5 / 15) and v["return_rate"] == pytest.approx(1 / 15)
    assert v["complaint_rate"] == pytest.approx(1 / 15)
    rows = by(v["by_product"], "product")
    assert (rows["course"]["customers"], rows["course"]["refund_rate"], rows["course"]["return_rate"],
            rows["course"]["complaint_rate"]) == (10, 0.4, 0.1, 0.1)
    assert rows["coaching"]["refund_rate"] == 0.2 and rows["coaching"]["kept_rate"] == 0.8
    assert "Highest: course (refunds 40.0%, returns 10.0% of 10 customers)" in q["answer"]
    assert doc["charts"]["refunds_by_product"][0] == {"product": "course", "customers": 10, "refund_rate": 0.4,
                                                      "return_rate": 0.1, "complaint_rate": 0.1}
    journey = by(doc["charts"]["journey"], "stage")
    assert journey["Kept customers"] == {"stage": "Kept customers", "count": 9, "lost": 6}
