"""Real data: the Olist marketing funnel imported through the generic importer with column mapping,
then audited; the facts in the data set's README are reproduced exactly.

MQLs: ``first_contact_date`` is the opt-in, with ``origin`` as source and ``landing_page_id`` as capture.
Closed deals: ``won_date`` is the purchase, with its ``lead_type``. Naive timestamps are read as UTC.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buyerjourney.analysis import run_audit
from buyerjourney.ingest import ImportOptions, import_files
from buyerjourney.store import DuckDBStore
from conftest import SHARED

DATA = SHARED / "data" / "olist-marketing-funnel"
MQL = DATA / "olist_marketing_qualified_leads_dataset.csv"
DEALS = DATA / "olist_closed_deals_dataset.csv"


def readme_table(header: str) -> list[list[str]]:
    """The rows of the README table whose header row starts with ``| header |``."""
    lines = (DATA / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("*").replace(",", "") for cell in line.strip("|").split("|")])
    return rows


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    path = tmp_path_factory.mktemp("olist") / "olist.duckdb"
    with DuckDBStore.open(path) as store:
        leads = import_files(store, [MQL], ImportOptions(
            maps={"entity_id": "mql_id", "ts": "first_contact_date", "source": "origin", "capture": "landing_page_id"},
            event="optin", timezone="UTC"))
        deals = import_files(store, [DEALS], ImportOptions(
            maps={"entity_id": "mql_id", "ts": "won_date"}, event="purchase", timezone="UTC"))
        assert (leads.accepted, leads.rejected, deals.accepted, deals.rejected) == (8000, 0, 842, 0)
        return run_audit(store, period_months=18).to_dict()


def question(doc, qid):
    return next(q for s in doc["stages"] for q in s["questions"] if q["id"] == qid)


def test_the_period_covers_the_whole_data_set(doc):
    assert doc["as_of"].startswith("2018-11-14T18:04:19")
    assert doc["period"]["start"].startswith("2017-06-01")  # first_contact_date starts 2017-06-14


def test_overall_conversion(doc):
    v = question(doc, "4.2")["value"]
    assert (v["leads"], v["converted_leads"]) == (8000, 842)
    assert v["conversion_to_date"] == 0.10525
    assert "842 of 8,000 leads of the period (10.5%) have bought so far" in question(doc, "4.2")["answer"]


def test_conversion_by_origin_with_the_empty_origin_as_its_own_bucket(doc):
    expected = {row[0]: (int(row[1]), int(row[2]), float(row[3])) for row in readme_table("origin")
                if row[0] != "total"}
    assert len(expected) == 11 and "(empty)" in expected
    rows = {r["source"]: r for r in question(doc, "1.3")["value"]}
    got = {name: (r["leads"], r["converted_leads"], round(r["conversion_to_date"], 6)) for name, r in rows.items()}
    assert got == expected
    economics = {r["source"]: (r["leads"], r["customers"]) for r in doc["economics"]["sources"]}
    assert economics == {name: (mqls, won) for name, (mqls, won, _) in expected.items()}


def test_median_and_mean_sales_cycle_in_calendar_days(doc):
    overall = question(doc, "4.3")["value"]["overall"]
    assert (overall["deals"], overall["median_days"], overall["min_days"], overall["max_days"]) == (842, 14, -2, 427)
    assert overall["mean_days"] == pytest.approx(40787 / 842, abs=1e-9)
    assert round(overall["mean_days"], 6) == 48.440618
    time_on_list = question(doc, "3.2")["value"]
    assert (time_on_list["median_days"], round(time_on_list["mean_days"], 6)) == (14, 48.440618)


def test_sales_cycle_per_lead_type(doc):
    expected = {row[0]: (int(row[1]), float(row[2]), float(row[3])) for row in readme_table("lead_type")}
    assert len(expected) == 9 and "(empty)" in expected
    rows = question(doc, "4.3")["value"]["by_lead_type"]
    got = {r["lead_type"]: (r["deals"], r["median_days"], round(r["mean_days"], 6)) for r in rows}
    assert got == expected


def test_what_olist_data_cannot_answer_is_unknown(doc):
    status = {q["id"]: q["status"] for s in doc["stages"] for q in s["questions"]}
    assert status["1.2"] == status["2.2"] == status["3.3"] == status["5.1"] == status["7.1"] == "unknown"
    assert status["1.1"] == status["1.3"] == status["2.1"] == status["3.1"] == status["4.2"] == "answered"
    assert "revenue" in question(doc, "3.3")["track"]


def test_conversion_per_horizon_is_censored_at_the_audit_date(doc):
    horizons = [h for h in question(doc, "3.1")["value"]["horizons"] if h["conversion"] is not None]
    values = [h["conversion"] for h in horizons]
    assert len(values) >= 3 and values == sorted(values)  # cumulative: never falls with the horizon
    assert all(re.search(r"Kaplan–Meier over 8,000 leads", h["how"]) for h in horizons)
    curves = doc["charts"]["cohort_curves"]
    assert [c["cohort"] for c in curves][:2] == ["2017-06", "2017-07"] and sum(c["leads"] for c in curves) == 8000


def test_the_readme_is_the_one_the_test_was_written_for():
    text = (DATA / "README.md").read_text(encoding="utf-8")
    assert "842 / 8,000 = **0.10525**" in text and Path(MQL).exists() and Path(DEALS).exists()
