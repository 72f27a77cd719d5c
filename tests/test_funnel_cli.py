"""``buyerjourney funnel``: the real console script on a real store, and its options in process."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from buyerjourney.cli import main
from buyerjourney.store import DuckDBStore
from conftest import journeys_for, load_events

JOURNEYS = {
    "ann": [("visit", "0d", {"source": "ads"}), ("signup", "1h"), ("purchase", "2d", {"revenue": 120})],
    "bob": [("visit", "0d", {"source": "seo"}), ("signup", "3h")],
    "cid": [("visit", "1d", {"source": "ads"}), ("refund", "1d1h"), ("signup", "1d2h"),
            ("purchase", "1d6h", {"revenue": 80})],
    "dan": [("visit", "8d", {"source": "mail"}), ("demo", "8d1h"), ("signup", "8d2h")],
}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "shop.duckdb"
    with DuckDBStore.open(path) as store:
        load_events(store, journeys_for(JOURNEYS))
    return path


def script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "buyerjourney", *args], capture_output=True, text=True, timeout=300)


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def test_console_script_json(db):
    done = script("funnel", "--db", str(db), "--steps", "visit,signup,purchase", "--window", "7d",
                  "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [s["count"] for s in doc["steps"]] == [4, 4, 2]
    assert {"name", "count", "conversion_from_previous", "conversion_from_first",
            "median_seconds_from_previous"} <= set(doc["steps"][0])


def test_console_script_table_draws_a_bar_per_step(db):
    done = script("funnel", "--db", str(db), "--steps", "visit,signup,purchase", "--window", "7d")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "█" in line]
    assert len(lines) == 3 and "visit" in lines[0] and "purchase" in lines[2]
    assert lines[0].count("█") > lines[2].count("█")


def test_console_script_invalid_funnel_is_one_line(db):
    done = script("funnel", "--db", str(db), "--steps", "visit,signup", "--order", "sequential")
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error:") and "unknown order" in done.stderr


def test_console_script_dropped_list_as_csv(db):
    done = script("funnel", "--db", str(db), "--steps", "visit,signup,purchase", "--window", "7d",
                  "--dropped-at", "3", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(io.StringIO(done.stdout))) == [["entity_id"], ["bob"], ["dan"]]


def test_options_within_optional_where_exclude(db, capsys):
    code, out, _ = run(capsys, "funnel", "--db", str(db), "--steps", "visit,demo,signup,purchase", "--window", "7d",
                       "--optional", "2", "--within", "3:2h", "--where", "4:revenue>100", "--exclude",
                       "refund:1:3", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    # ann: signup 1h after visit, purchase revenue 120; bob: signup 3h after (> 2h); cid: refund in between;
    # dan: demo then signup 1h later (within counts from the filled optional step)
    assert [s["count"] for s in doc["steps"]] == [3, 1, 2, 1]
    assert doc["excluded"] == 1
    assert doc["query"]["steps"][3]["where"] == {"revenue": {"gt": 100}}


def test_breakdown_trend_revenue_sections(db, capsys):
    code, out, _ = run(capsys, "funnel", "--db", str(db), "--steps", "visit,signup,purchase", "--window", "7d",
                       "--by", "source", "--trend", "week", "--revenue", "revenue", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert {r["value"]: r["purchase"] for r in doc["breakdown"]} == {"ads": 2, "seo": 0, "mail": 0}
    assert [r["entered"] for r in doc["trend"]] == [3, 1]
    assert doc["revenue"][2]["total"] == 200.0
    code, out, _ = run(capsys, "funnel", "--db", str(db), "--steps", "visit,signup,purchase", "--by", "source",
                       "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("value,visit,signup,purchase")
    code, out, _ = run(capsys, "funnel", "--db", str(db), "--steps", "visit,signup", "--by", "source", "--trend",
                       "day")
    assert code == 0 and "breakdown" in out and "trend" in out


def test_reached_list_paged_json(db, capsys):
    code, out, _ = run(capsys, "funnel", "--db", str(db), "--steps", "visit,signup", "--reached-at", "1",
                       "--limit", "2", "--offset", "1", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["total"], doc["offset"], doc["entities"], doc["kind"]) == (4, 1, ["bob", "cid"], "reached")


@pytest.mark.parametrize(("args", "message"), [
    (["--within", "2"], "STEP:DURATION"),
    (["--within", "9:1d"], "not a step"),
    (["--where", "2:plan"], "STEP:PROPERTY=VALUE"),
    (["--where", "2:plan~1"], "contains takes a string"),
    (["--exclude", "refund:1"], "EVENT:FROM_STEP:TO_STEP"),
    (["--exclude", "signup"], "steps' events"),
    (["--window", "2 weeks"], "not a duration"),
    (["--dropped-at", "1"], "nobody drops at step 1"),
    (["--reached-at", "1", "--dropped-at", "2"], "one of"),
    (["--trend", "year"], "day, week or month"),
    (["--attribution", "best", "--by", "source"], "first, last or step:N"),
])
def test_mistakes_are_one_line_errors(db, capsys, args, message):
    code, out, err = run(capsys, "funnel", "--db", str(db), "--steps", "visit,signup", *args)
    assert code != 0 and out == ""
    assert err.startswith("error:") and message in err and err.strip().count("\n") == 0


def test_missing_store(tmp_path, capsys):
    code, _, err = run(capsys, "funnel", "--db", str(tmp_path / "none.duckdb"), "--steps", "visit")
    assert code != 0 and "no store" in err


def test_help_has_an_example(capsys):
    code, out, _ = run(capsys, "funnel", "--help")
    assert code == 0 and "Example:" in out and "--dropped-at" in out
