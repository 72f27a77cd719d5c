"""``buyerjourney demo`` and ``buyerjourney generate`` through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from buyerjourney.cli import main
from buyerjourney.demo import generate
from buyerjourney.events import EVENT_SCHEMA, events_table_from_records
from buyerjourney.store import DuckDBStore

SCRIPT = Path(sys.executable).with_name("buyerjourney")
STAGES = ["Traffic", "Lead capture", "Prospect follow-up", "Sales", "Delivery", "Upsell", "Referral"]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BUYERJOURNEY_DB": str(tmp_path / "env-default.duckdb")}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The same entry point in-process (for the cheap checks): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


def test_demo_prints_the_summary_and_is_repeatable(tmp_path: Path):
    db = tmp_path / "demo.duckdb"
    first = run(tmp_path, "demo", "--leads", "2000", "--db", str(db), "--format", "json")
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    summary = document["summary"]
    assert [s["id"] for s in document["audit"]["stages"]] == list(range(1, 8))
    assert document["report"] == "report.html" and "<html" in (tmp_path / "report.html").read_text()
    assert summary["events"] == generate(2000, 42).events.num_rows
    assert list(dict.fromkeys(s["name"] for s in summary["stages"])) == STAGES
    counts = {s["measure"]: s["count"] for s in summary["stages"]}
    assert counts["leads"] >= 2000 and 0 < counts["customers"] < counts["leads"] < counts["visitors"]
    table = run(tmp_path, "demo", "--leads", "2000", "--db", str(db))
    assert table.returncode == 0, table.stderr
    for word in [*STAGES, "visitors", "leads", "customers", "referred leads", "events", "entities", "Fix first",
                 "Leaks, ranked from the end of the journey"]:
        assert word in table.stdout
    for stage in summary["stages"]:
        assert f"{stage['count']:,}" in table.stdout
    with DuckDBStore.open(db, read_only=True) as store:
        info = store.info()
    assert info.events == summary["events"]  # replaced, not added to
    assert f"{info.events:,} events, {info.entities:,} entities" in " ".join(table.stdout.split())
    assert info.spend_rows > 0 and not info.needs_refresh


def test_demo_uses_the_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUYERJOURNEY_DB", raising=False)
    code, out, err = cli(capsys, "demo", "--leads", "300", "--seed", "9", "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[0] == "#,stage,measure,count,share"
    assert len(out.splitlines()) == 10
    with DuckDBStore.open(tmp_path / "buyerjourney.duckdb", read_only=True) as store:
        assert store.info().events == generate(300, 9).events.num_rows


def test_demo_refuses_a_store_with_other_data(tmp_path: Path):
    db = tmp_path / "mine.duckdb"
    with DuckDBStore.open(db) as store:
        store.append_events(events_table_from_records([{"entity_id": "ann", "event": "signup",
                                                        "ts": "2024-01-01T00:00:00Z"}]))
    done = run(tmp_path, "demo", "--leads", "300", "--db", str(db))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert "not from the demo" in done.stderr and "Traceback" not in done.stderr
    with DuckDBStore.open(db, read_only=True) as store:
        assert store.info().events == 1


def test_demo_refuses_a_bad_size_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, _, err = cli(capsys, "demo", "--leads", "0", "--db", str(tmp_path / "x.duckdb"))
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "--leads" in err
    assert not (tmp_path / "x.duckdb").exists()


def test_generate_writes_readable_parquet_and_spend(tmp_path: Path):
    done = run(tmp_path, "generate", "--leads", "1500", "--seed", "3", "--out", "demo.parquet",
               "--spend-out", "spend.csv", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    events = pq.read_table(tmp_path / "demo.parquet")
    assert events.schema.equals(EVENT_SCHEMA)
    assert events.num_rows == result["events"] and result["leads"] == 1500
    assert events.equals(generate(1500, 3).events)
    assert pacsv.read_csv(tmp_path / "spend.csv").num_rows == result["spend_rows"] > 0


def test_generate_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "demo.jsonl"
    code, stdout, err = cli(capsys, "generate", "--leads", "300", "--out", str(out))
    assert code == 0, err
    lines = out.read_text().splitlines()
    first = json.loads(lines[0])
    assert first["event"] == "visit" and isinstance(first["properties"], dict)
    assert f"{len(lines):,}" in stdout


@pytest.mark.parametrize("args", [["--out", "demo.txt"], ["--out", "demo.parquet", "--spend-out", "spend.xls"]])
def test_generate_refuses_unknown_extensions_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], args: list[str]):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "generate", "--leads", "100", *args)
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_generate_needs_an_output_file(capsys: pytest.CaptureFixture[str]):
    code, _, err = cli(capsys, "generate", "--leads", "100")
    assert code == 2 and "--out" in err


@pytest.mark.parametrize("command", ["demo", "generate"])
def test_help_has_an_example(capsys: pytest.CaptureFixture[str], command: str):
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0
    assert "Example:" in out and f"buyerjourney {command}" in out
