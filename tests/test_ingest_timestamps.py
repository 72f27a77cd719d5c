"""Time zones: zoned ISO-8601 and epoch numbers are instants; naive times need --timezone or are refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from buyerjourney.errors import TimezoneError
from buyerjourney.ingest import ImportOptions, import_files


def instants(store) -> dict[str, str]:
    rows = store.query("SELECT entity_id, ts FROM events_raw").to_pylist()
    return {r["entity_id"]: r["ts"].astimezone(UTC).isoformat() for r in rows}


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00+00:00"),
    ("2024-01-01 10:00:00z", "2024-01-01T10:00:00+00:00"),
    ("2024-01-01T10:00:00+02:00", "2024-01-01T08:00:00+00:00"),
    ("2024-01-01T10:00:00 -0530", "2024-01-01T15:30:00+00:00"),
    ("2024-01-01T10:00+01", "2024-01-01T09:00:00+00:00"),
    ("2024-01-01T10:00:00.123456Z", "2024-01-01T10:00:00.123456+00:00"),
    ("2024-07-01 10:00:00 Europe/Paris", "2024-07-01T08:00:00+00:00"),
    ("1704067200", "2024-01-01T00:00:00+00:00"),
    ("1704067200.5", "2024-01-01T00:00:00.500000+00:00"),
    ("1704067200123", "2024-01-01T00:00:00.123000+00:00"),
])
def test_zoned_and_epoch_timestamps(store, tmp_path, text, expected):
    path = tmp_path / "ts.csv"
    path.write_text(f'entity_id,event,ts\nann,visit,"{text}"\n')
    import_files(store, [path])
    assert instants(store) == {"ann": expected}


def test_naive_timestamps_are_refused_naming_file_column_and_line(store, tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text("Email,Created Date\ncat@x.com,2024-01-01T00:00:00Z\n")
    naive = tmp_path / "crm.csv"
    naive.write_text("Email,Created Date\nann@x.com,2024-01-01T00:00:00Z\nbob@x.com,2024-03-01 09:30\n")
    options = ImportOptions(maps={"entity_id": "Email", "ts": "Created Date"}, event="deal")
    with pytest.raises(TimezoneError) as caught:
        import_files(store, [ok, naive], options)
    message = str(caught.value)
    assert "crm.csv" in message and "'Created Date'" in message and "line 3" in message and "--timezone" in message
    assert store.query("SELECT count(*) AS n FROM events_raw")["n"][0].as_py() == 0


def test_timezone_applies_to_naive_times_only(store, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("entity_id,event,ts\nwinter,deal,2024-01-15 09:30\nsummer,deal,2024-07-15T09:30:00\n"
                    "day,deal,2024-07-15\nzoned,deal,2024-07-15T09:30:00Z\nepoch,deal,1704067200\n")
    import_files(store, [path], ImportOptions(timezone="Europe/Paris"))
    assert instants(store) == {
        "winter": "2024-01-15T08:30:00+00:00", "summer": "2024-07-15T07:30:00+00:00",
        "day": "2024-07-14T22:00:00+00:00", "zoned": "2024-07-15T09:30:00+00:00", "epoch": "2024-01-01T00:00:00+00:00"}


def test_unknown_timezone(store, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("entity_id,event,ts\nann,visit,2024-01-01T00:00:00Z\n")
    with pytest.raises(TimezoneError, match="unknown time zone 'Mars/Olympus'"):
        import_files(store, [path], ImportOptions(timezone="Mars/Olympus"))


def test_parquet_naive_columns_are_refused_before_reading(store, tmp_path):
    table = pa.table({"entity_id": ["ann"], "event": ["visit"], "ts": pa.array([datetime(2024, 1, 1, 12)],
                                                                                pa.timestamp("us"))})
    pq.write_table(table, tmp_path / "naive.parquet")
    with pytest.raises(TimezoneError, match=r"naive\.parquet: column 'ts'"):
        import_files(store, [tmp_path / "naive.parquet"])
    import_files(store, [tmp_path / "naive.parquet"], ImportOptions(timezone="America/New_York"))
    assert instants(store) == {"ann": "2024-01-01T17:00:00+00:00"}


def test_parquet_dates_and_zoned_timestamps(store, tmp_path):
    ts = pa.array([datetime(2024, 1, 1, 12, tzinfo=UTC), None], pa.timestamp("ms", tz="Asia/Tokyo"))
    table = pa.table({"entity_id": ["a", "b"], "event": ["visit", "visit"], "ts": ts})
    pq.write_table(table, tmp_path / "zoned.parquet")
    report = import_files(store, [tmp_path / "zoned.parquet"])
    assert instants(store) == {"a": "2024-01-01T12:00:00+00:00"}
    assert report.files[0].first_rejects[0].reason == "ts is missing"
    dates = pa.table({"entity_id": ["c"], "event": ["visit"], "day": pa.array([date(2024, 2, 1)])})
    pq.write_table(dates, tmp_path / "dates.parquet")
    import_files(store, [tmp_path / "dates.parquet"], ImportOptions(maps={"ts": "day"}, timezone="UTC"))
    assert instants(store)["c"] == "2024-02-01T00:00:00+00:00"


@pytest.mark.parametrize("text", ["99999999999999999999", "1800-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "-1e20"])
def test_out_of_range_instants_are_rejected(store, tmp_path, text):
    path = tmp_path / "range.csv"
    path.write_text(f"entity_id,event,ts\nann,visit,{text}\n")
    report = import_files(store, [path])
    assert "out of range" in report.files[0].first_rejects[0].reason
