"""``buyerjourney import`` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("buyerjourney")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "buyerjourney"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "160", "HOME": str(cwd)})


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "events.csv").write_text("entity_id,event,ts,source\nann,visit,2024-01-01T00:00:00Z,ads\n"
                                         "bob,visit,not-a-time,seo\n")
    (tmp_path / "deals.csv").write_text("Email,Created Date,Origin\nann,2024-02-01 10:00,fair\n")
    (tmp_path / "spend.csv").write_text("date,source,amount\n2024-01-01,ads,10\n")
    return tmp_path


def test_import_prints_the_report(files):
    done = run("import", "events.csv", "--spend", "spend.csv", "--db", "s.duckdb", cwd=files)
    assert done.returncode == 0, done.stderr
    assert "events.csv" in done.stdout and "spend.csv" in done.stdout
    assert "events.csv:3" in done.stdout and "not-a-time" in done.stdout
    assert "2 rows added, 0 already there, 1 rejected" in done.stdout
    again = run("import", "events.csv", "--db", "s.duckdb", "--format", "json", cwd=files)
    report = json.loads(again.stdout)
    assert report["totals"] == {"rows": 2, "accepted": 0, "duplicates": 1, "rejected": 1}
    assert report["files"][0]["first_rejects"][0]["line"] == 3


def test_map_event_timezone_and_csv_output(files):
    done = run("import", "deals.csv", "--event", "deal", "--map", "entity_id=Email", "--map", "ts=Created Date",
               "--map", "source=Origin", "--timezone", "Europe/Paris", "--db", "s.duckdb", "-f", "csv", cwd=files)
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.strip().splitlines()
    assert header.startswith("file,kind,format,rows,accepted")
    assert row.split(",")[3:5] == ["1", "1"]


@pytest.mark.parametrize(("args", "message", "code"), [
    (["missing.csv"], "error: no such file: missing.csv", 3),
    (["deals.csv", "--event", "deal", "--map", "entity_id=E-mail"], "has no column 'E-mail'", 3),
    (["events.csv", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'", 2),
    (["deals.csv", "--event", "deal", "--map", "entity_id=Email", "--map", "ts=Created Date"], "--timezone", 2),
    (["events.csv", "--map", "nonsense"], "--map expects TARGET=COLUMN", 2),
    ([], "nothing to import", 2),
])
def test_user_mistakes_print_one_line(files, args, message, code):
    done = run("import", *args, "--db", "s.duckdb", cwd=files)
    assert done.returncode == code
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr + done.stdout


def test_rejects_file_is_written(files):
    done = run("import", "events.csv", "--rejects", "bad.jsonl", "--db", "s.duckdb", "--quiet", cwd=files)
    assert done.returncode == 0, done.stderr
    (reject,) = [json.loads(line) for line in (files / "bad.jsonl").read_text().splitlines()]
    assert (reject["file"], reject["line"]) == ("events.csv", 3) and "not-a-time" in reject["reason"]
    assert "rejects in bad.jsonl" in done.stdout


def test_help_has_an_example(files):
    done = run("import", "--help", cwd=files)
    assert done.returncode == 0 and "Example:" in done.stdout and "--map entity_id=Email" in done.stdout
