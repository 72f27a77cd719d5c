from __future__ import annotations

import duckdb
import pytest

from buyerjourney.errors import NotFoundError, StoreError
from buyerjourney.events import events_table_from_records
from buyerjourney.store import DuckDBStore
from buyerjourney.store.duckdb import SCHEMA_VERSION
from conftest import journeys_for, load_events


def test_events_are_clustered_by_entity_and_time(store):
    load_events(store, journeys_for({"zed": [("b", "2d"), ("a", "1d")], "amy": [("c", "3d"), ("a", "0d")]}))
    rows = store.query("SELECT entity_id, event, entity_key FROM events").to_pylist()
    assert [(r["entity_id"], r["event"]) for r in rows] == [("amy", "a"), ("amy", "c"), ("zed", "a"), ("zed", "b")]
    assert [r["entity_key"] for r in rows] == [0, 0, 1, 1]
    assert store.event_names() == {"a": 0, "b": 1, "c": 2}


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
