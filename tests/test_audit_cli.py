"""``buyerjourney audit`` and ``buyerjourney init`` on the command line."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit_support import many
from buyerjourney.cli import main
from buyerjourney.store import DuckDBStore
from conftest import journeys_for, load_events

SCRIPT = Path(sys.executable).with_name("buyerjourney")
DOC_KEYS = {"generated_at", "as_of", "store", "period", "fix_first", "stages", "leaks", "economics", "charts"}


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "shop.duckdb"
    j = many("c", 40, [("visit", "0d", {"source": "ads", "capture": "guide"}), ("optin", "1d", {"capture": "guide"}),
                       ("purchase", "10d", {"product": "course", "revenue": 100, "currency": "USD"})])
    j |= many("v", 60, [("visit", "2d", {"source": "seo", "capture": "guide"})])
    for i in range(25):
        j[f"c{i}"].append(("refund", "15d", {"product": "course"}))
    with DuckDBStore.open(path) as store:
        load_events(store, journeys_for(j))
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def test_json_is_the_audit_document(capsys, db):
    code, out, _ = run(capsys, "audit", "--db", str(db), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == DOC_KEYS
    assert [len(s["questions"]) for s in doc["stages"]] == [3] * 7
    assert set(doc["economics"]) >= {"margin", "lead_value", "referral", "upsell", "sources"}
    assert set(doc["charts"]) == {"journey", "cohort_curves", "time_to_purchase", "source_quality",
                                  "refunds_by_product", "traffic_by_month"}
    leak = doc["leaks"][0]
    assert {"rank", "stage_id", "from", "to", "conversion", "target", "gap", "customers_lost_per_month",
            "revenue_lost_per_month", "promotion_spend_wasted_per_month", "how"} <= set(leak)
    assert leak["stage_id"] == 5 and leak["from"] == "customers"


def test_table_prints_the_leaks_first_then_the_stages(capsys, db):
    code, out, _ = run(capsys, "audit", "--db", str(db))
    assert code == 0
    flat = " ".join(out.split())
    assert flat.index("Fix first") < flat.index("Leaks, ranked from the end") < flat.index("1. Traffic")
    for title in ("1. Traffic", "2. Lead capture", "3. Prospect follow-up", "4. Sales", "5. Delivery", "6. Upsell",
                  "7. Referral", "Lead value"):
        assert title in out
    assert "unknown" in out and "answered" in out


def test_csv_has_one_row_per_question(capsys, db):
    code, out, _ = run(capsys, "audit", "--db", str(db), "--format", "csv", "--months", "6")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == [f"{s}.{n}" for s in range(1, 8) for n in range(1, 4)]
    assert rows[0]["stage"] == "Traffic" and json.loads(rows[0]["value"])["sources"] == 2


def test_html_report_is_written(capsys, db, tmp_path):
    pytest.importorskip("buyerjourney.report")
    target = tmp_path / "out" / "report.html"
    code, _, err = run(capsys, "audit", "--db", str(db), "--format", "html", "-o", str(target))
    assert code == 0 and f"wrote {target}" in err
    page = target.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and "Fix first" in page


def test_the_journey_config_is_read_and_validated(capsys, db, tmp_path):
    good = tmp_path / "journey.yaml"
    good.write_text("targets:\n  customer_kept: 0.3\n", encoding="utf-8")
    code, out, _ = run(capsys, "audit", "--db", str(db), "--config", str(good), "--format", "json")
    assert code == 0 and all(leak["metric"] != "customer_kept" for leak in json.loads(out)["leaks"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  custmer_kept: 0.3\n", encoding="utf-8")
    code, out, err = run(capsys, "audit", "--db", str(db), "--config", str(bad))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {bad}: targets.custmer_kept: unknown key")


def test_as_of_and_months_options(capsys, db):
    code, out, _ = run(capsys, "audit", "--db", str(db), "--format", "json", "--as-of", "2024-01-05", "-m", "3")
    doc = json.loads(out)
    assert code == 0 and doc["as_of"].startswith("2024-01-05T23:59:59") and doc["period"]["months"] == 3
    assert doc["period"]["start"].startswith("2023-11-01")
    code, _, err = run(capsys, "audit", "--db", str(db), "--as-of", "last week")
    assert code == 2 and "is not a date" in err


def test_a_missing_store_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "audit", "--db", str(tmp_path / "none.duckdb"))
    assert code == 3 and err.startswith("error: no store at") and len(err.strip().splitlines()) == 1


def test_init_writes_the_commented_config_once(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "init")
    assert code == 0 and "# journey.yaml" in (tmp_path / "journey.yaml").read_text(encoding="utf-8")
    code, _, err = run(capsys, "init")
    assert code == 2 and "already exists" in err
    (tmp_path / "journey.yaml").write_text("gross_margin: 0.5\n", encoding="utf-8")
    code, _, _ = run(capsys, "init", "--force")
    assert code == 0 and "gross_margin: 0.60" in (tmp_path / "journey.yaml").read_text(encoding="utf-8")


def test_the_console_script_uses_journey_yaml_in_the_working_folder(db, tmp_path):
    (tmp_path / "journey.yaml").write_text("gross_margin: 0.25\n", encoding="utf-8")
    env = {**os.environ, "BUYERJOURNEY_DB": str(db)}
    done = subprocess.run([str(SCRIPT), "audit", "--format", "json"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["economics"]["margin"] == 0.25
    helped = subprocess.run([str(SCRIPT), "audit", "--help"], capture_output=True, text=True, timeout=300)
    assert "Example:" in helped.stdout and "--months" in helped.stdout
