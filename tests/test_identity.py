"""Identity: identify / alias join a visitor's anonymous past to the lead, in either order; conflicts are kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from buyerjourney.events import IDENTITY_SCHEMA, events_table_from_records
from buyerjourney.ingest import import_files
from buyerjourney.store import DuckDBStore
from buyerjourney.store.identity import resolve_identities

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def segment(path, *messages) -> object:
    path.write_text("".join(json.dumps(m) + "\n" for m in messages))
    return path


def visit(anon: str, hours: float, source: str, mid: str) -> dict:
    return {"type": "page", "anonymousId": anon, "messageId": mid, "timestamp": at(hours),
            "context": {"campaign": {"source": source}}}


def identify(anon: str | None, user: str, hours: float, mid: str) -> dict:
    message = {"type": "identify", "userId": user, "messageId": mid, "timestamp": at(hours), "traits": {"plan": "x"}}
    if anon:
        message["anonymousId"] = anon
    return message


def alias(previous: str, user: str, hours: float, mid: str) -> dict:
    return {"type": "alias", "previousId": previous, "userId": user, "messageId": mid, "timestamp": at(hours)}


def owners(store) -> dict[str, str]:
    """event_id -> the entity the store gives it."""
    return {r["event_id"]: r["entity_id"] for r in store.query("SELECT event_id, entity_id FROM events").to_pylist()}


def first_touch_source(store, entity: str) -> str | None:
    rows = store.query("SELECT json_extract_string(properties, '$.source') AS s FROM events WHERE entity_id = ? "
                       "ORDER BY ts LIMIT 1", [entity]).to_pylist()
    return rows[0]["s"] if rows else None


def test_anonymous_visits_join_the_lead_when_identify_comes_after(store, tmp_path):
    import_files(store, [segment(tmp_path / "visits.jsonl", visit("a1", 0, "google", "v1"),
                                 visit("a1", 5, "newsletter", "v2"))])
    assert set(owners(store).values()) == {"a1"}
    report = import_files(store, [segment(tmp_path / "optin.jsonl", identify("a1", "lead@x.com", 6, "i1"),
                                          {"type": "track", "userId": "lead@x.com", "event": "Opt In",
                                           "messageId": "t1", "timestamp": at(6)})])
    assert report.files[0].identity_links == 1
    assert owners(store) == {"v1": "lead@x.com", "v2": "lead@x.com", "t1": "lead@x.com"}
    assert first_touch_source(store, "lead@x.com") == "google"
    entity = store.query("SELECT identified FROM entities WHERE entity_id = 'lead@x.com'").to_pylist()
    assert entity == [{"identified": True}]


def test_identify_before_the_anonymous_visits_arrive(store, tmp_path):
    import_files(store, [segment(tmp_path / "optin.jsonl", identify("a1", "lead@x.com", 6, "i1"))])
    import_files(store, [segment(tmp_path / "visits.jsonl", visit("a1", 0, "google", "v1"))])
    assert owners(store) == {"v1": "lead@x.com"}
    assert first_touch_source(store, "lead@x.com") == "google"


def test_events_that_carry_both_ids_link_them(store, tmp_path):
    path = tmp_path / "web.csv"
    path.write_text("anonymous_id,entity_id,event,ts,source\na7,,visit,2024-01-01T00:00:00Z,ads\n"
                    "a7,bob,signup,2024-01-02T00:00:00Z,\n")
    report = import_files(store, [path])
    assert report.files[0].identity_links == 1
    assert set(owners(store).values()) == {"bob"}


def test_alias_chains_resolve_in_any_order(tmp_path):
    messages = [visit("a1", 0, "ads", "v1"), identify("a1", "u1", 1, "i1"), alias("u1", "u2", 2, "l1"),
                alias("u2", "u3", 3, "l2"), {"type": "track", "userId": "u2", "event": "Buy", "messageId": "t1",
                                             "timestamp": at(4)}]
    for name, order in (("forward", messages), ("backward", messages[::-1])):
        with DuckDBStore.open(tmp_path / f"{name}.duckdb") as store:
            for i, message in enumerate(order):  # one import per message: the worst order of arrival
                import_files(store, [segment(tmp_path / f"{name}{i}.jsonl", message)])
            assert owners(store) == {"v1": "u3", "t1": "u3"}
            assert store.info().identity_conflicts == 0


def test_conflicting_merges_are_reported_never_lost(store, tmp_path):
    import_files(store, [segment(tmp_path / "a.jsonl", visit("a1", 0, "ads", "v1"), identify("a1", "ann", 1, "i1"),
                                 identify(None, "bob", 1, "i0"))])
    report = import_files(store, [segment(tmp_path / "b.jsonl", identify("a1", "bob", 2, "i2"))])
    assert [(c.from_id, c.kept_to_id, c.rejected_to_id) for c in report.conflicts] == [("a1", "ann", "bob")]
    assert report.files[0].identity_conflicts == 1
    assert owners(store)["v1"] == "ann"
    stored = store.query("SELECT * FROM identity_conflicts").to_pylist()
    assert stored == [{"from_id": "a1", "kept_to_id": "ann", "rejected_to_id": "bob", "reason": "already linked"}]
    links = store.query("SELECT from_id, to_id FROM identities ORDER BY ts").to_pylist()
    assert links == [{"from_id": "a1", "to_id": "ann"}, {"from_id": "a1", "to_id": "bob"}]  # both kept


def test_an_earlier_link_arriving_late_wins_and_the_other_is_reported(store, tmp_path):
    import_files(store, [segment(tmp_path / "a.jsonl", visit("a1", 0, "ads", "v1"), identify("a1", "ann", 5, "i1"))])
    report = import_files(store, [segment(tmp_path / "b.jsonl", identify("a1", "bob", 2, "i2"))])
    assert owners(store)["v1"] == "bob"
    assert [(c.kept_to_id, c.rejected_to_id) for c in report.conflicts] == [("bob", "ann")]


def test_alias_cycle_is_a_conflict(store, tmp_path):
    report = import_files(store, [segment(tmp_path / "c.jsonl", alias("x", "y", 1, "l1"), alias("y", "x", 2, "l2"))])
    assert [(c.from_id, c.reason) for c in report.conflicts] == [("y", "would form a cycle")]


def test_reimporting_identities_adds_nothing(store, tmp_path):
    path = segment(tmp_path / "s.jsonl", visit("a1", 0, "ads", "v1"), identify("a1", "ann", 1, "i1"),
                   identify("a1", "bob", 2, "i2"), alias("ann", "ann@x.com", 3, "l1"))
    first = import_files(store, [path])
    assert (first.accepted, len(first.conflicts)) == (4, 1)
    before = store.info()
    again = import_files(store, [path])
    assert (again.accepted, again.duplicates, again.files[0].identity_links, again.conflicts) == (0, 4, 0, [])
    after = store.info()
    assert (before.identity_links, before.identity_conflicts) == (3, 1)
    assert (after.identity_links, after.identity_conflicts) == (3, 1)
    assert store.query("SELECT count(*) AS n FROM traits")["n"][0].as_py() == 2
    assert owners(store) == {"v1": "ann@x.com"}


IDS = ["a", "b", "c", "d", "e", "f"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(IDS), st.integers(0, 5)), max_size=12))
def test_store_resolution_follows_the_rules(links):
    """The store's bulk path for simple links gives exactly what resolve_identities gives on all links."""
    table = pa.table({"from_id": [a for a, _, _ in links], "to_id": [b for _, b, _ in links],
                      "ts": pa.array([T0 + timedelta(hours=h) for _, _, h in links], pa.timestamp("us", tz="UTC")),
                      "kind": ["alias"] * len(links), "message_id": [f"m{i}" for i in range(len(links))]},
                     schema=IDENTITY_SCHEMA)
    with DuckDBStore.open(":memory:") as store:
        store.append_identities(table)
        store.append_events(events_table_from_records(
            [{"entity_id": x, "event": "seen", "ts": T0.isoformat(), "event_id": x} for x in IDS]))
        conflicts = store.refresh()
        roots, expected = resolve_identities(table.select(["from_id", "to_id", "ts"]))
        assert owners(store) == {x: roots.get(x, x) for x in IDS}
        assert sorted(conflicts, key=repr) == sorted(expected, key=repr)
