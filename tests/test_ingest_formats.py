"""Round trips: CSV, JSON Lines, Parquet and Segment messages land as the same events; re-imports add nothing."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from buyerjourney.ingest import ImportOptions, import_files
from buyerjourney.store import DuckDBStore

EVENTS = [
    {"event_id": "e1", "entity_id": "ann", "anonymous_id": "a1", "account_id": "acme", "event": "signup",
     "ts": "2024-03-01T10:00:00+00:00", "properties": {"source": "ads", "plan": "pro"}},
    {"event_id": "e2", "entity_id": "ann", "anonymous_id": None, "account_id": None, "event": "buy",
     "ts": "2024-03-02T12:30:00.250000+00:00", "properties": {"revenue": 500, "currency": "EUR"}},
    {"event_id": "e3", "entity_id": None, "anonymous_id": "a9", "account_id": None, "event": "visit",
     "ts": "2024-03-03T00:00:00+00:00", "properties": None},
]
COLUMNS = ["event_id", "entity_id", "anonymous_id", "account_id", "event", "ts", "properties"]


def rows(store: DuckDBStore) -> list[dict]:
    """events_raw as plain dicts (properties parsed, ts in ISO), in event_id order."""
    out = []
    for r in store.query("SELECT * FROM events_raw ORDER BY event_id, entity_id, event, ts").to_pylist():
        r["ts"] = r["ts"].astimezone(UTC).isoformat()
        r["properties"] = None if r["properties"] is None else json.loads(r["properties"])
        out.append(r)
    return out


def write_csv(path: Path) -> Path:
    lines = [",".join(COLUMNS)]
    for e in EVENTS:
        props = "" if e["properties"] is None else '"' + json.dumps(e["properties"]).replace('"', '""') + '"'
        lines.append(",".join([*(e[c] or "" for c in COLUMNS[:6]), props]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jsonl(path: Path) -> Path:
    path.write_text("".join(json.dumps({k: v for k, v in e.items() if v is not None}) + "\n" for e in EVENTS))
    return path


def write_parquet(path: Path) -> Path:
    table = pa.table({
        **{c: pa.array([e[c] for e in EVENTS], pa.string()) for c in COLUMNS[:5]},
        "ts": pa.array([datetime.fromisoformat(e["ts"]) for e in EVENTS], pa.timestamp("us", tz="UTC")),
        "properties": pa.array([None if e["properties"] is None else json.dumps(e["properties"]) for e in EVENTS]),
    })
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("writer", [write_csv, write_jsonl, write_parquet], ids=["csv", "jsonl", "parquet"])
def test_round_trip(store, tmp_path, writer):
    path = writer(tmp_path / f"events.{writer.__name__.removeprefix('write_')}")
    report = import_files(store, [path])
    assert (report.rows, report.accepted, report.rejected) == (3, 3, 0)
    assert rows(store) == EVENTS
    again = import_files(store, [path])
    assert (again.accepted, again.duplicates) == (0, 3)
    assert store.query("SELECT count(*) AS n FROM events_raw")["n"][0].as_py() == 3


def test_every_format_gives_the_same_events(tmp_path):
    seen = []
    for writer in (write_csv, write_jsonl, write_parquet):
        with DuckDBStore.open(tmp_path / f"{writer.__name__}.duckdb") as store:
            import_files(store, [writer(tmp_path / f"e.{writer.__name__.removeprefix('write_')}")])
            seen.append(rows(store))
    assert seen[0] == seen[1] == seen[2]


def test_formats_mix_in_one_import_and_deduplicate_across_files(store, tmp_path):
    report = import_files(store, [write_csv(tmp_path / "a.csv"), write_jsonl(tmp_path / "b.jsonl")])
    assert [(f.accepted, f.duplicates) for f in report.files] == [(3, 0), (0, 3)]


def test_rows_without_ids_get_stable_content_ids(tmp_path):
    path = tmp_path / "noids.csv"
    path.write_text("entity_id,event,ts,plan\nann,visit,2024-01-01T00:00:00Z,pro\nann,visit,2024-01-01T00:00:00Z,"
                    "free\nann,visit,2024-01-01T00:00:00Z,pro\n")
    ids = []
    for name in ("one", "two"):
        with DuckDBStore.open(tmp_path / f"{name}.duckdb") as store:
            report = import_files(store, [path])
            assert (report.accepted, report.duplicates) == (2, 1)  # the third row repeats the first
            assert import_files(store, [path]).accepted == 0
            ids.append(sorted(store.query("SELECT event_id FROM events_raw")["event_id"].to_pylist()))
    assert ids[0] == ids[1] and all(i.startswith("h:") for i in ids[0])


def test_parquet_typed_columns(store, tmp_path):
    table = pa.table({
        "user_id": pa.array([7, 8], pa.int64()),
        "event": ["visit", "buy"],
        "timestamp": pa.array([1_704_067_200, 1_704_067_200_500], pa.int64()),  # epoch s, then ms
        "revenue": pa.array([None, 12.5]),
        "is_new": [True, False],
        "tags": pa.array([["a", "b"], []]),
        "score": pa.array([float("nan"), 3.0]),
        "properties": pa.array([{"source": "ads"}, {"source": None}], pa.struct([("source", pa.string())])),
    })
    pq.write_table(table, tmp_path / "typed.parquet")
    import_files(store, [tmp_path / "typed.parquet"])
    got = rows(store)
    by_entity = {r["entity_id"]: r for r in got}
    assert by_entity["7"]["ts"] == "2024-01-01T00:00:00+00:00"
    assert by_entity["8"]["ts"] == "2024-01-01T00:00:00.500000+00:00"
    assert by_entity["7"]["properties"] == {"source": "ads", "is_new": True, "tags": ["a", "b"]}
    assert by_entity["8"]["properties"] == {"source": None, "revenue": 12.5, "is_new": False, "tags": [], "score": 3.0}


def test_csv_cells_become_typed_properties(store, tmp_path):
    path = tmp_path / "typed.csv"
    path.write_text("entity_id,event,ts,count,price,flag,zip,empty,text,revenue\n"
                    "ann,visit,2024-01-01T00:00:00Z,3,1.50,true,01234,,hello,10\n")
    import_files(store, [path])
    (row,) = rows(store)
    assert row["properties"] == {"count": 3, "price": 1.5, "flag": True, "zip": "01234", "text": "hello",
                                 "revenue": 10}
    assert '"price":1.50' in store.query("SELECT properties FROM events_raw")["properties"][0].as_py()


def test_delimiters_bom_and_gzip(store, tmp_path):
    (tmp_path / "semi.csv").write_text("\ufeffentity_id;event;ts\nann;visit;2024-01-01T00:00:00Z\n", encoding="utf-8")
    (tmp_path / "tabs.tsv").write_text("entity_id\tevent\tts\nbob\tvisit\t2024-01-01T00:00:00Z\n")
    with gzip.open(tmp_path / "zipped.csv.gz", "wt") as handle:
        handle.write("entity_id,event,ts\ncat,visit,2024-01-01T00:00:00Z\n")
    with gzip.open(tmp_path / "zipped.jsonl.gz", "wt") as handle:
        handle.write('{"entity_id": "dan", "event": "visit", "ts": "2024-01-01T00:00:00Z"}\n')
    files = [tmp_path / n for n in ("semi.csv", "tabs.tsv", "zipped.csv.gz", "zipped.jsonl.gz")]
    report = import_files(store, files)
    assert [f.accepted for f in report.files] == [1, 1, 1, 1]
    assert sorted(r["entity_id"] for r in rows(store)) == ["ann", "bob", "cat", "dan"]


def test_quoted_newlines_keep_line_numbers(store, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('entity_id,event,ts,note\nann,visit,2024-01-01T00:00:00Z,"two\nlines"\n'
                    'bob,visit,never,x\n"c\r\nd",visit,2024-01-01T00:00:00Z,"\n\n"\nemma,visit,later,x\n')
    report = import_files(store, [path])
    assert [(r.line, r.reason.split(":")[0]) for r in report.files[0].first_rejects] == [(4, "ts"), (9, "ts")]
    assert {r["entity_id"] for r in rows(store)} == {"ann", "c\r\nd"}


SEGMENT = [
    {"type": "page", "anonymousId": "anon-1", "messageId": "m1", "name": "Pricing", "timestamp": "2024-05-01T09:00:00Z",
     "context": {"campaign": {"source": "google", "name": "spring", "medium": "cpc"},
                 "page": {"referrer": "https://google.com"}}},
    {"type": "track", "anonymousId": "anon-1", "messageId": "m2", "event": "Guide Downloaded",
     "properties": {"capture": "guide", "source": "newsletter"}, "timestamp": "2024-05-01T09:05:00Z"},
    {"type": "identify", "anonymousId": "anon-1", "userId": "lead-1", "messageId": "m3",
     "traits": {"email": "l@x.com", "role": "cto"}, "timestamp": "2024-05-01T09:06:00Z"},
    {"type": "screen", "userId": "lead-1", "messageId": "m4", "name": "Home",
     "originalTimestamp": "2024-05-02T00:00:00Z"},
    {"type": "group", "userId": "lead-1", "groupId": "acme", "messageId": "m5", "traits": {"size": 40},
     "timestamp": "2024-05-02T00:00:01Z"},
    {"type": "alias", "previousId": "lead-1", "userId": "lead-1@x.com", "messageId": "m6",
     "timestamp": "2024-05-03T00:00:00Z"},
]


def _segment_check(store: DuckDBStore) -> None:
    got = {r["event_id"]: r for r in rows(store)}
    assert set(got) == {"m1", "m2", "m4", "m5"}
    assert got["m1"]["event"] == "page"
    assert got["m1"]["properties"] == {"name": "Pricing", "source": "google", "campaign": "spring", "medium": "cpc",
                                       "referrer": "https://google.com"}
    assert got["m2"]["event"] == "Guide Downloaded" and got["m2"]["properties"]["source"] == "newsletter"
    assert got["m4"]["ts"] == "2024-05-02T00:00:00+00:00"
    assert (got["m5"]["event"], got["m5"]["account_id"]) == ("group", "acme")
    links = store.query("SELECT from_id, to_id, kind FROM identities ORDER BY message_id").to_pylist()
    assert links == [{"from_id": "anon-1", "to_id": "lead-1", "kind": "identify"},
                     {"from_id": "lead-1", "to_id": "lead-1@x.com", "kind": "alias"}]
    traits = store.query("SELECT entity_id, traits FROM traits").to_pylist()
    assert [(t["entity_id"], json.loads(t["traits"])) for t in traits] == [("lead-1", {"email": "l@x.com",
                                                                                      "role": "cto"})]
    resolved = store.query("SELECT DISTINCT entity_id FROM events").to_pylist()
    assert resolved == [{"entity_id": "lead-1@x.com"}]


@pytest.mark.parametrize("shape", ["lines", "batch_line", "document"])
def test_segment_messages(store, tmp_path, shape):
    path = tmp_path / "segment.json"
    if shape == "lines":
        path.write_text("\n".join(json.dumps(m) for m in SEGMENT) + "\n")
    elif shape == "batch_line":
        path.write_text(json.dumps({"batch": SEGMENT[:3]}) + "\n" + json.dumps({"batch": SEGMENT[3:]}) + "\n")
    else:
        path.write_text(json.dumps({"batch": SEGMENT, "writeKey": "k"}, indent=2))
    report = import_files(store, [path])
    assert (report.rows, report.accepted, report.rejected) == (6, 6, 0)
    assert report.files[0].identity_links == 2
    _segment_check(store)
    again = import_files(store, [path])
    assert (again.accepted, again.duplicates) == (0, 6)


def test_segment_batch_context_applies_to_its_messages(store, tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps({"batch": [{"type": "track", "userId": "u", "event": "Visit",
                                           "timestamp": "2024-01-01T00:00:00Z"}],
                                "context": {"campaign": {"source": "bing"}}}) + "\n")
    import_files(store, [path])
    assert rows(store)[0]["properties"] == {"source": "bing"}


def test_import_options_event_and_maps_apply_to_json_records(store, tmp_path):
    path = tmp_path / "crm.jsonl"
    path.write_text('{"email": "a@x.com", "created": "2024-01-01T00:00:00Z", "origin": "fair", "amount": 3}\n')
    import_files(store, [path], ImportOptions(maps={"entity_id": "email", "ts": "created", "source": "origin"},
                                              event="deal"))
    (row,) = rows(store)
    assert (row["entity_id"], row["event"]) == ("a@x.com", "deal")
    assert row["properties"] == {"source": "fair", "amount": 3}
