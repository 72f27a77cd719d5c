"""Column mapping for exports of other tools: --map, --event, aliases, and what is refused."""

from __future__ import annotations

import json

import pytest

from buyerjourney.errors import ImportFormatError, InputError, NotFoundError
from buyerjourney.ingest import ImportOptions, import_files, parse_maps

CRM = ("Email,Created Date,Origin,Amount,Owner\n"
       "ann@x.com,2024-02-01T09:00:00Z,fair,1200,Zoé\n"
       "bob@x.com,2024-02-02T09:00:00Z,web,,\n")


def events(store) -> list[dict]:
    rows = store.query("SELECT entity_id, event, ts, properties FROM events_raw ORDER BY entity_id").to_pylist()
    return [{**r, "properties": json.loads(r["properties"]) if r["properties"] else None} for r in rows]


def test_crm_export_with_map_and_event(store, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(CRM)
    options = ImportOptions(maps=parse_maps(["entity_id=Email", "ts=Created Date", "source=Origin"]), event="deal")
    report = import_files(store, [path], options)
    assert report.accepted == 2
    got = events(store)
    assert [(e["entity_id"], e["event"]) for e in got] == [("ann@x.com", "deal"), ("bob@x.com", "deal")]
    assert got[0]["properties"] == {"source": "fair", "Amount": 1200, "Owner": "Zoé"}
    assert got[1]["properties"] == {"source": "web"}


def test_mapped_names_match_any_case(store, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(CRM)
    import_files(store, [path], ImportOptions(maps={"entity_id": "email", "ts": "created date",
                                                    "revenue": "AMOUNT"}, event="deal"))
    assert events(store)[0]["properties"]["revenue"] == 1200


def test_aliases_of_other_tools(store, tmp_path):
    path = tmp_path / "mixpanel.csv"
    path.write_text("distinct_id,event_name,time,$insert_id,city\nann,Signed Up,1704067200,ins-1,Lyon\n")
    import_files(store, [path])
    row = store.query("SELECT * FROM events_raw").to_pylist()[0]
    assert (row["entity_id"], row["event"], row["event_id"]) == ("ann", "Signed Up", "ins-1")
    assert json.loads(row["properties"]) == {"city": "Lyon"}


def test_event_option_keeps_an_event_column_as_a_property(store, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("entity_id,event,ts\nann,Closed Won,2024-01-01T00:00:00Z\n")
    import_files(store, [path], ImportOptions(event="deal"))
    assert events(store)[0]["event"] == "deal" and events(store)[0]["properties"] == {"event": "Closed Won"}


def test_unknown_mapped_column_names_file_and_column(store, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(CRM)
    with pytest.raises(NotFoundError, match=r"deals\.csv has no column 'E-mail'.*'Email'"):
        import_files(store, [path], ImportOptions(maps={"entity_id": "E-mail"}, event="deal"))
    json_path = tmp_path / "deals.jsonl"
    json_path.write_text('{"mail": "a", "event": "x", "ts": 1704067200}\n')
    with pytest.raises(NotFoundError, match=r"deals\.jsonl has no field 'email'"):
        import_files(store, [json_path], ImportOptions(maps={"entity_id": "email"}))
    assert store.query("SELECT count(*) AS n FROM events_raw")["n"][0].as_py() == 0


def test_missing_required_columns_are_explained(store, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(CRM)
    with pytest.raises(ImportFormatError, match="--event NAME"):
        import_files(store, [path], ImportOptions(maps={"entity_id": "Email", "ts": "Created Date"}))


@pytest.mark.parametrize(("items", "match"), [
    (["entity_id"], "TARGET=COLUMN"), (["=Email"], "TARGET=COLUMN"), (["ts=a", "ts=b"], "twice"),
])
def test_bad_map_options(items, match):
    with pytest.raises(InputError, match=match):
        parse_maps(items)


def test_event_and_event_map_conflict(store, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(CRM)
    with pytest.raises(InputError, match="not both"):
        import_files(store, [path], ImportOptions(maps={"event": "Origin"}, event="deal"))


def test_duplicate_and_blank_header_names(store, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("entity_id,event,ts,tag,tag,\nann,visit,2024-01-01T00:00:00Z,a,b,c\n")
    import_files(store, [path])
    assert events(store)[0]["properties"] == {"tag": "a", "tag_2": "b", "column_6": "c"}
