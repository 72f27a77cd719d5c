from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from buyerjourney.errors import NotFoundError, StoreError
from buyerjourney.events import events_table_from_records
from buyerjourney.store import DuckDBStore
from buyerjourney.store.duckdb import MIGRATIONS, SCHEMA_VERSION
from conftest import journeys_for, load_events


def test_events_are_clustered_by_entity_and_time(store):
    load_events(store, journeys_for({"zed": [("b", "2d"), ("a", "1d")], "amy": [("c", "3d"), ("a", "0d")]}))
    index = pa.Table.from_batches(list(store.scan()))
    raw = store.query("SELECT rowid AS r, event FROM events_raw").to_pylist()
    names = {r["r"]: r["event"] for r in raw}
    keys = dict(store.con.execute("SELECT entity_key, entity_id FROM entities").fetchall())
    rows = [(keys[k], names[r]) for k, r in zip(index["entity_key"].to_pylist(), index["raw_row"].to_pylist(),
                                                strict=True)]
    assert rows == [("amy", "a"), ("amy", "c"), ("zed", "a"), ("zed", "b")]
    assert index["entity_key"].to_pylist() == [0, 0, 1, 1]
    assert index["event_key"].to_pylist() == [0, 2, 0, 1]
    assert store.event_names() == {"a": 0, "b": 1, "c": 2}
    view = store.query("SELECT entity_id, event, entity_key FROM events ORDER BY entity_key, ts").to_pylist()
    assert [(r["entity_id"], r["event"], r["entity_key"]) for r in view] == [
        ("amy", "a", 0), ("amy", "c", 0), ("zed", "a", 1), ("zed", "b", 1)]


def write_v1_store(path):
    con = duckdb.connect(str(path))
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("""INSERT INTO events_raw VALUES
        ('e1', NULL, 'anon', NULL, 'visit', '2024-01-01T00:00:00Z', '{"source":"ads"}'),
        ('e2', 'ann', 'anon', NULL, 'optin', '2024-01-02T00:00:00Z', NULL)""")
    con.close()
    return path


def test_a_version_1_store_is_migrated_with_its_events(tmp_path):
    path = write_v1_store(tmp_path / "v1.duckdb")
    with DuckDBStore.open(path) as opened:
        assert opened.schema_version == SCHEMA_VERSION == 2
        assert opened.needs_refresh
        opened.refresh()
        rows = opened.query("SELECT entity_id, event_id, properties->>'source' AS s FROM events "
                            "ORDER BY ts").to_pylist()
        assert rows == [{"entity_id": "ann", "event_id": "e1", "s": "ads"},
                        {"entity_id": "ann", "event_id": "e2", "s": None}]
        assert sum(b.num_rows for b in opened.scan()) == 2


def test_reading_a_version_1_store_upgrades_it_first(tmp_path):
    import buyerjourney

    path = write_v1_store(tmp_path / "v1.duckdb")
    with DuckDBStore.open(path, read_only=True) as opened:
        assert opened.schema_version == SCHEMA_VERSION and not opened.needs_refresh
        assert buyerjourney.funnel(opened, steps=["visit", "optin"], window="7d").counts == [1, 1]


def test_scan_refuses_an_unknown_column(store):
    with pytest.raises(NotFoundError, match="properties"):
        list(store.scan(["entity_key", "properties"]))


def test_reimport_adds_nothing(store):
    table = events_table_from_records(journeys_for({"ann": [("visit", "0d"), ("buy", "1d")]}))
    assert store.append_events(table).inserted == 2
    again = store.append_events(table)
    assert (again.inserted, again.duplicates) == (0, 2)


def test_content_hash_ids_make_reimport_idempotent(store):
    events = [{"entity_id": "ann", "event": "visit", "ts": "2024-01-01T00:00:00Z", "properties": {"a": 1}}]
    assert store.append_events(events_table_from_records(events)).inserted == 1
    assert store.append_events(events_table_from_records(events)).inserted == 0


def test_anonymous_visits_join_the_lead_after_identify(store):
    events = [
        {"anonymous_id": "anon1", "event": "visit", "ts": "2024-01-01T00:00:00Z", "properties": {"source": "ads"}},
        {"entity_id": "ann", "anonymous_id": "anon1", "event": "optin", "ts": "2024-01-02T00:00:00Z"},
    ]
    load_events(store, events)
    rows = store.query("SELECT DISTINCT entity_id FROM events").to_pylist()
    assert rows == [{"entity_id": "ann"}]


def test_schema_version_and_newer_store_refused(tmp_path):
    path = tmp_path / "s.duckdb"
    DuckDBStore.open(path).close()
    with DuckDBStore.open(path) as opened:
        assert opened.schema_version == SCHEMA_VERSION
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError, match=r"newer|upgrade"):
        DuckDBStore.open(path)


def test_missing_store_read_only(tmp_path):
    with pytest.raises(NotFoundError):
        DuckDBStore.open(tmp_path / "none.duckdb", read_only=True)


def test_an_event_without_id_gets_the_same_id_from_a_file_and_from_records(store, tmp_path):
    from buyerjourney.ingest import import_files

    record = {"entity_id": "ann", "event": "visit", "ts": "2024-01-01T00:00:00Z"}
    path = tmp_path / "one.csv"
    path.write_text("entity_id,event,ts\nann,visit,2024-01-01T00:00:00Z\n")
    import_files(store, [path])
    assert store.append_events(events_table_from_records([record])).inserted == 0


def test_events_at_the_same_time_are_taken_in_event_id_order_whatever_their_arrival(store):
    import buyerjourney

    same = "2024-01-01T00:00:00Z"
    events = [{"entity_id": "ann", "event": "visit", "ts": same, "event_id": eid, "properties": {"n": n}}
              for n, eid in enumerate(["z", "m", "b"])]
    events.append({"entity_id": "ann", "event": "buy", "ts": "2024-01-02T00:00:00Z", "event_id": "y"})
    store.append_events(events_table_from_records(events))
    store.refresh()
    from_store = buyerjourney.funnel(store, steps=["visit", "buy"], window="7d").table.to_pylist()
    in_memory = buyerjourney.funnel(events, steps=["visit", "buy"], window="7d").table.to_pylist()
    assert from_store[0]["step_event_id"] == in_memory[0]["step_event_id"] == ["b", "y"]


def test_a_store_left_unrefreshed_is_refused_by_the_engine_and_refreshed_by_the_cli(tmp_path):
    import json
    import subprocess
    import sys

    import buyerjourney

    path = tmp_path / "dirty.duckdb"
    with DuckDBStore.open(path) as opened:
        opened.append_events(events_table_from_records([
            {"entity_id": "ann", "event": "visit", "ts": "2024-01-01T00:00:00Z"},
            {"entity_id": "ann", "event": "optin", "ts": "2024-01-02T00:00:00Z"}]))  # no refresh: interrupted
        with pytest.raises(StoreError, match="not yet indexed"):
            buyerjourney.funnel(opened, steps=["visit", "optin"], window="7d")
    done = subprocess.run([sys.executable, "-m", "buyerjourney", "funnel", "--db", str(path), "--steps",
                           "visit,optin", "--window", "7d", "--format", "json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [step["count"] for step in json.loads(done.stdout)["steps"]] == [1, 1]
