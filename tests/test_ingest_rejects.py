"""Bad rows are reported (file, line, reason) while good rows land; unreadable files change nothing."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from buyerjourney.errors import ImportFormatError, InputError, NotFoundError
from buyerjourney.ingest import ImportOptions, import_files

GOOD = "ann,visit,2024-01-01T00:00:00Z"


def count(store) -> int:
    return store.query("SELECT count(*) AS n FROM events_raw")["n"][0].as_py()


def reasons(report) -> list[tuple[int | None, str]]:
    return [(r.line, r.reason) for f in report.files for r in f.first_rejects]


def test_bad_csv_rows_are_reported_and_good_rows_land(store, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join([
        "entity_id,event,ts,revenue,note",
        f"{GOOD},1,",
        ",visit,2024-01-01T00:00:00Z,,",
        "bob,,2024-01-01T00:00:00Z,,",
        "bob,visit,31/12/2024,,",
        "bob,visit,,,",
        "bob,buy,2024-01-01T00:00:00Z,lots,",
        f"bob,visit,2024-01-01T00:00:00Z,,{'x' * 1_000_001}",
        "cat,visit,2024-01-02T00:00:00Z,,",
    ]) + "\n")
    report = import_files(store, [path], ImportOptions(first_rejects=10))
    (file,) = report.files
    assert (file.rows, file.accepted, file.rejected) == (8, 2, 6)
    assert reasons(report) == [
        (3, "entity_id (or anonymous_id) is missing"),
        (4, "event is missing"),
        (5, 'ts: "31/12/2024" is not a timestamp (ISO-8601 with a zone, or epoch seconds or milliseconds)'),
        (6, "ts is missing"),
        (7, 'revenue: "lots" is not a number'),
        (8, "field 'note' is larger than 1 MB"),
    ]
    assert sorted(store.query("SELECT entity_id FROM events_raw")["entity_id"].to_pylist()) == ["ann", "cat"]


def test_structurally_broken_csv_uses_exact_lines(store, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"entity_id,event,ts\n" + GOOD.encode() + b"\nbob,visit\n\n"
                     + b"cat,visit,2024-01-01T00:00:00Z,extra\n" + b"d\xffn,visit,2024-01-01T00:00:00Z\n"
                     + b"emma,visit,2024-01-01T00:00:00Z\n")
    report = import_files(store, [path])
    assert reasons(report) == [(3, "expected 3 fields, found 2"), (5, "expected 3 fields, found 4"),
                               (6, "not valid UTF-8")]
    assert report.files[0].accepted == 2
    assert sorted(store.query("SELECT entity_id FROM events_raw")["entity_id"].to_pylist()) == ["ann", "emma"]


def test_bad_json_lines_are_reported(store, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([
        b'{"entity_id": "ann", "event": "visit", "ts": "2024-01-01T00:00:00Z"}',
        b'{"entity_id": "ann", "event": ',
        b"[]",
        b'{"entity_id": {"id": 1}, "event": "visit", "ts": "2024-01-01T00:00:00Z"}',
        b'{"entity_id": "ann", "event": "visit", "ts": false}',
        b'{"entity_id": "ann", "event": "visit", "ts": "2024-01-01T00:00:00Z", "properties": "x"}',
        b'{"entity_id": "ann", "event": "visit", "ts": "2024-01-01T00:00:00Z", "n": "' + b"y" * 1_000_001 + b'"}',
        b'{"entity_id": "b\xe9b", "event": "visit", "ts": "2024-01-01T00:00:00Z"}',
        b'{"entity_id": "bob", "event": "visit", "ts": "2024-01-02T00:00:00Z"}',
    ]))
    report = import_files(store, [path], ImportOptions(first_rejects=10))
    assert [line for line, _ in reasons(report)] == [2, 3, 4, 5, 6, 7, 8]
    got = dict(reasons(report))
    assert got[2].startswith("invalid JSON")
    assert got[3] == "line: an empty list holds no event"
    assert got[4] == "entity_id: expected text, got an object"
    assert got[5].startswith("ts: expected a timestamp")
    assert got[6].startswith("properties: expected a JSON object")
    assert got[7] == "line is larger than 1 MB"
    assert got[8] == "not valid UTF-8"
    assert report.files[0].accepted == 2


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_rejects_file_holds_every_rejected_row(store, tmp_path, suffix):
    path = tmp_path / "in.csv"
    path.write_text("entity_id,event,ts\n" + "".join(f"u{i},visit,bad{i}\n" for i in range(12)) + GOOD + "\n")
    out = tmp_path / f"rejects{suffix}"
    report = import_files(store, [path], ImportOptions(rejects=out))
    assert report.rejects_file == str(out) and len(report.files[0].first_rejects) == 5
    if suffix == ".csv":
        with out.open() as handle:
            written = list(csv.DictReader(handle))
    else:
        written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [int(r["line"]) for r in written] == list(range(2, 14))
    assert all(r["file"] == str(path) and "is not a timestamp" in r["reason"] for r in written)
    assert json.loads(written[0]["raw"]) == {"entity_id": "u0", "event": "visit", "ts": "bad0"}


def test_missing_file_names_it_and_changes_nothing(store, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(f"entity_id,event,ts\n{GOOD}\n")
    with pytest.raises(NotFoundError, match=r"missing\.csv"):
        import_files(store, [good, tmp_path / "missing.csv"])
    assert count(store) == 0


@pytest.mark.parametrize(("name", "content", "match"), [
    ("fake.parquet", b"not parquet at all", "not a Parquet file"),
    ("empty.csv", b"", "is empty"),
    ("binary.csv", b"\x00\x01\x02PAR", "binary"),
    ("words.jsonl", b"hello there\nmore words\n", "is not JSON"),
    ("noevent.csv", b"entity_id,ts\nann,2024-01-01T00:00:00Z\n", "no 'event' column"),
    ("nots.csv", b"entity_id,event\nann,visit\n", "no 'ts' column"),
    ("noid.csv", b"event,ts\nvisit,2024-01-01T00:00:00Z\n", "no 'entity_id'"),
    ("cut.jsonl.gz", b"\x1f\x8b\x08\x00", "cannot read"),
    ("cut.csv.gz", b"\x1f\x8b\x08\x00", "cannot read"),
])
def test_unreadable_file_refuses_the_whole_import(store, tmp_path, name, content, match):
    good = tmp_path / "good.csv"
    good.write_text(f"entity_id,event,ts\n{GOOD}\n")
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(ImportFormatError, match=match) as caught:
        import_files(store, [good, bad])
    assert str(bad) in str(caught.value)
    assert count(store) == 0


def test_a_file_failing_half_way_writes_nothing(store, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(f"entity_id,event,ts\n{GOOD}\n")
    parquet = tmp_path / "cut.parquet"
    table = pa.table({"entity_id": [f"u{i}" for i in range(5000)], "event": ["visit"] * 5000,
                      "ts": pa.array([1_704_067_200_000_000 + i for i in range(5000)], pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, parquet, row_group_size=1000)
    data = parquet.read_bytes()
    parquet.write_bytes(data[:4] + b"\x00" * 3000 + data[3004:])  # footer intact, first row groups wrecked
    with pytest.raises(ImportFormatError, match=r"cut\.parquet"):
        import_files(store, [good, parquet])
    assert count(store) == 0


def test_whole_json_file_of_broken_lines_is_refused(store, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"entity_id": \n{"event": \n')
    with pytest.raises(ImportFormatError, match="none of its 2 lines"):
        import_files(store, [path])
    assert count(store) == 0


def test_nothing_to_import_and_bad_rejects_folder(store, tmp_path):
    with pytest.raises(InputError, match="nothing to import"):
        import_files(store, [])
    good = tmp_path / "good.csv"
    good.write_text(f"entity_id,event,ts\n{GOOD}\n")
    with pytest.raises(InputError, match="no folder"):
        import_files(store, [good], ImportOptions(rejects=tmp_path / "nope" / "r.csv"))
    assert count(store) == 0
