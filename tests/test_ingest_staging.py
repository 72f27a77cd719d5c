"""Fast staging: one pass per batch, then the checks that keep it exact (repeats, rejects, links per file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buyerjourney.ingest import import_files
from buyerjourney.ingest.staging import has_repeats
from buyerjourney.store import DuckDBStore


def write_parquet(path: Path, rows: list[tuple[str | None, str | None, str | None, str | None, str]]) -> Path:
    """Rows of (event_id, entity_id, anonymous_id, event, ts ISO with zone)."""
    columns = list(zip(*rows, strict=True))
    pq.write_table(pa.table({
        "event_id": pa.array(columns[0], pa.string()), "entity_id": pa.array(columns[1], pa.string()),
        "anonymous_id": pa.array(columns[2], pa.string()), "event": pa.array(columns[3], pa.string()),
        "ts": pa.array(columns[4], pa.string())}), path)
    return path


def test_an_id_repeated_inside_a_file_keeps_its_first_row(store, tmp_path):
    path = write_parquet(tmp_path / "e.parquet", [
        ("e1", "ann", None, "visit", "2024-01-01T00:00:00Z"),
        ("e2", "bob", None, "visit", "2024-01-02T00:00:00Z"),
        ("e1", "cat", None, "buy", "2024-01-03T00:00:00Z"),
    ])
    report = import_files(store, [path])
    assert (report.accepted, report.duplicates, report.rejected) == (2, 1, 0)
    rows = store.query("SELECT event_id, entity_id, event FROM events_raw ORDER BY event_id").to_pylist()
    assert rows == [{"event_id": "e1", "entity_id": "ann", "event": "visit"},
                    {"event_id": "e2", "entity_id": "bob", "event": "visit"}]


def test_stored_ids_rejects_and_new_rows_in_one_file(store, tmp_path):
    import_files(store, [write_parquet(tmp_path / "first.parquet", [("e1", "ann", None, "visit",
                                                                      "2024-01-01T00:00:00Z")])])
    path = write_parquet(tmp_path / "second.parquet", [
        ("e1", "ann", None, "visit", "2024-01-01T00:00:00Z"),  # already stored
        ("e2", None, None, "visit", "2024-01-02T00:00:00Z"),  # no id at all: rejected
        ("e3", "bob", None, "buy", "not a time"),  # rejected
        ("e4", "bob", None, "buy", "2024-01-04T00:00:00Z"),
        ("e5", "cat", None, "visit", "2024-01-05T00:00:00Z"),
    ])
    report = import_files(store, [path])
    (file,) = report.files
    assert (file.rows, file.accepted, file.duplicates, file.rejected) == (5, 2, 1, 2)
    assert [r.line for r in file.first_rejects] == [2, 3]
    assert store.query("SELECT count(*) AS n FROM events_raw")["n"][0].as_py() == 3
    assert store.query("SELECT count(*) AS n FROM event_index")["n"][0].as_py() == 3


def test_identity_links_are_counted_per_file(store, tmp_path):
    one = write_parquet(tmp_path / "one.parquet", [("a", None, "anon1", "visit", "2024-01-01T00:00:00Z"),
                                                   ("b", "ann", "anon1", "optin", "2024-01-02T00:00:00Z")])
    two = write_parquet(tmp_path / "two.parquet", [("c", "bob", "anon2", "optin", "2024-01-03T00:00:00Z"),
                                                   ("d", "bob", "anon3", "optin", "2024-01-04T00:00:00Z"),
                                                   ("e", None, "anon3", "visit", "2024-01-01T00:00:00Z")])
    report = import_files(store, [one, two])
    assert [f.identity_links for f in report.files] == [1, 2]
    owners = store.query("SELECT event_id, entity_id FROM events ORDER BY event_id").to_pylist()
    assert [r["entity_id"] for r in owners] == ["ann", "ann", "bob", "bob", "bob"]


def test_has_repeats():
    assert has_repeats(np.array([3, 1, 2, 1], np.uint64))
    assert not has_repeats(np.array([3, 1, 2], np.uint64))
    assert not has_repeats(np.array([], np.uint64))


def test_json_properties_written_as_text_holding_an_object_are_read_as_that_object(store, tmp_path):
    import json

    from buyerjourney.ingest import ImportOptions

    path = tmp_path / "export.jsonl"
    lines = [{"event_id": "e1", "entity_id": "ann", "event": "buy", "ts": "2024-01-01T00:00:00Z",
              "properties": json.dumps({"revenue": 500, "source": "ads"})},
             {"event_id": "e2", "entity_id": "ann", "event": "buy", "ts": "2024-01-02T00:00:00Z",
              "properties": "[1, 2]"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    report = import_files(store, [path], ImportOptions(first_rejects=5))
    assert (report.accepted, report.rejected) == (1, 1)
    assert report.files[0].first_rejects[0].reason.startswith("properties: expected a JSON object")
    stored = store.query("SELECT properties->>'source' AS s, (properties->>'revenue')::INT AS r FROM events_raw")
    assert stored.to_pylist() == [{"s": "ads", "r": 500}]


_IDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
_ROW = st.tuples(_IDS, st.sampled_from(["ann", "bob"]), st.sampled_from(["visit", "buy"]), st.integers(1, 9))
_FILES = st.lists(st.lists(_ROW, min_size=0, max_size=6), min_size=1, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.lists(_ROW, max_size=3), files=_FILES)
def test_the_first_occurrence_of_every_id_lands_whatever_the_repeats(tmp_path_factory, stored, files):
    folder = tmp_path_factory.mktemp("imports")

    def parquet(name: str, rows: list[tuple[str, str, str, int]]) -> Path:
        return write_parquet(folder / name, [(i, who, None, ev, f"2024-01-0{day}T00:00:00Z")
                                             for i, who, ev, day in rows]) if rows else _empty(folder / name)

    with DuckDBStore.open(folder / "s.duckdb") as store:
        expected: dict[str, tuple[str, str, int]] = {}
        if stored:
            import_files(store, [parquet("stored.parquet", stored)])
            for i, who, ev, day in stored:
                expected.setdefault(i, (who, ev, day))
        report = import_files(store, [parquet(f"f{n}.parquet", rows) for n, rows in enumerate(files)])
        counts = []
        for rows in files:
            new = 0
            for i, who, ev, day in rows:
                if i not in expected:
                    expected[i] = (who, ev, day)
                    new += 1
            counts.append((len(rows), new, len(rows) - new))
        assert [(f.rows, f.accepted, f.duplicates) for f in report.files] == counts
        got = {r["event_id"]: (r["entity_id"], r["event"], r["ts"].day) for r in store.query(
            "SELECT event_id, entity_id, event, ts FROM events_raw").to_pylist()}
        assert got == expected
        assert store.query("SELECT count(*) AS n FROM event_index")["n"][0].as_py() == len(expected)


def _empty(path: Path) -> Path:
    pq.write_table(pa.table({"event_id": pa.array([], pa.string()), "entity_id": pa.array([], pa.string()),
                             "event": pa.array([], pa.string()), "ts": pa.array([], pa.string())}), path)
    return path
