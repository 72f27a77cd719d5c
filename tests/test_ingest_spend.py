"""Spend files (--spend): CSV, JSON Lines and Parquet; bad rows reported; re-import adds nothing."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from buyerjourney.errors import ImportFormatError
from buyerjourney.ingest import ImportOptions, import_files

EXPECTED = [
    {"date": date(2024, 1, 1), "source": "paid_search", "campaign": "spring", "amount": 120.5, "currency": "EUR"},
    {"date": date(2024, 1, 2), "source": "social", "campaign": None, "amount": 80.0, "currency": None},
]


def spend(store) -> list[dict]:
    return store.query("SELECT * FROM spend ORDER BY date").to_pylist()


def write(tmp_path, kind):
    if kind == "csv":
        path = tmp_path / "spend.csv"
        path.write_text("date,source,campaign,amount,currency\n2024-01-01,paid_search,spring,120.50,eur\n"
                        "2024-01-02,social,,80,\n")
    elif kind == "jsonl":
        path = tmp_path / "spend.jsonl"
        path.write_text('{"date": "2024-01-01", "source": "paid_search", "campaign": "spring", "amount": 120.5, '
                        '"currency": "EUR"}\n{"day": "2024-01-02", "channel": "social", "cost": 80}\n')
    else:
        path = tmp_path / "spend.parquet"
        pq.write_table(pa.table({"date": [date(2024, 1, 1), date(2024, 1, 2)], "source": ["paid_search", "social"],
                                 "campaign": ["spring", None], "amount": [120.5, 80.0], "currency": ["EUR", None]}),
                       path)
    return path


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_spend_round_trip_and_reimport(store, tmp_path, kind):
    path = write(tmp_path, kind)
    report = import_files(store, [], ImportOptions(spend=(path,)))
    assert (report.files[0].kind, report.accepted, report.rejected) == ("spend", 2, 0)
    assert spend(store) == EXPECTED
    again = import_files(store, [], ImportOptions(spend=(path,)))
    assert (again.accepted, again.duplicates) == (0, 2)


def test_bad_spend_rows(store, tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text("Day,Channel,Cost\n2024-01-01,ads,10\n2024-13-01,ads,10\n,ads,10\n2024-01-03,,10\n"
                    "2024-01-04,ads,ten\n2024-01-05,ads,\n2024-01-06,ads,5\n")
    report = import_files(store, [], ImportOptions(spend=(path,), first_rejects=10))
    assert [(r.line, r.reason) for r in report.files[0].first_rejects] == [
        (3, 'date: "2024-13-01" is not a date (YYYY-MM-DD)'), (4, "date is missing"), (5, "source is missing"),
        (6, 'amount: "ten" is not a number'), (7, "amount is missing")]
    assert [r["amount"] for r in spend(store)] == [10.0, 5.0]


def test_events_and_spend_in_one_import(store, tmp_path):
    events = tmp_path / "e.csv"
    events.write_text("entity_id,event,ts\nann,visit,2024-01-01T00:00:00Z\n")
    report = import_files(store, [events], ImportOptions(spend=(write(tmp_path, "csv"),)))
    assert [(f.kind, f.accepted) for f in report.files] == [("events", 1), ("spend", 2)]


def test_a_file_that_is_not_spend_is_refused(store, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("entity_id,event,ts\nann,visit,2024-01-01T00:00:00Z\n")
    with pytest.raises(ImportFormatError, match="not a spend file"):
        import_files(store, [], ImportOptions(spend=(path,)))
