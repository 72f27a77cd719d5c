"""Malformed input, generated: never a crash, never a lost good row, and every bad row reported at its line."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buyerjourney.errors import ImportFormatError, TimezoneError
from buyerjourney.ingest import import_files
from buyerjourney.store import DuckDBStore

HUGE = "x" * 1_000_100
T_2024 = 1_704_067_200

text = st.text(st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=12)


@dataclass(frozen=True)
class Good:
    entity: str
    event: str
    ts_us: int


@st.composite
def good_csv_row(draw: st.DrawFn) -> tuple[list[str], Good]:
    entity = draw(st.sampled_from(["ann", "bob", "c,d", 'quote"d', "émile", "12"]))
    event = draw(st.sampled_from(["visit", "signup", "buy"]))
    seconds = T_2024 + draw(st.integers(0, 10_000_000))
    style = draw(st.sampled_from(["iso", "offset", "epoch", "epoch_ms"]))
    ts = {"iso": datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
          "offset": datetime.fromtimestamp(seconds - 7200, UTC).strftime("%Y-%m-%dT%H:%M:%S-02:00"),
          "epoch": str(seconds), "epoch_ms": str(seconds * 1000)}[style]
    note = draw(text | st.sampled_from(["multi\nline", "a,b", "", "007", "1.5", "true"]))
    revenue = draw(st.sampled_from(["", "10", "12.50"]))
    return [entity, event, ts, note, revenue], Good(entity, event, seconds * 1_000_000)


bad_csv_row = st.sampled_from([
    (["", "visit", "2024-01-01T00:00:00Z", "", ""], "is missing"),
    (["ann", "", "2024-01-01T00:00:00Z", "", ""], "event is missing"),
    (["ann", "visit", "yesterday", "", ""], "is not a timestamp"),
    (["ann", "visit", "2024-02-30T00:00:00Z", "", ""], "is not a timestamp"),
    (["ann", "visit", "99999999999999999999", "", ""], "out of range"),
    (["ann", "visit", "", "", ""], "ts is missing"),
    (["ann", "buy", "2024-01-01T00:00:00Z", "", "ten"], "not a number"),
    (["ann", "visit", "2024-01-01T00:00:00Z", HUGE, ""], "larger than 1 MB"),
    (["ann", "visit", "2024-01-01T00:00:00Z"], "expected 5 fields"),
    (["ann", "visit", "2024-01-01T00:00:00Z", "", "", "extra"], "expected 5 fields"),
    (["ann", "visit", "2024-01-01T00:00:00Z", "BADBYTES", ""], "UTF-8"),
])


def _import(path: Path) -> tuple[DuckDBStore, object]:
    store = DuckDBStore.open(":memory:")
    return store, import_files(store, [path])


def _stored(store: DuckDBStore) -> set[Good]:
    rows = store.query("SELECT entity_id, event, epoch_us(ts) AS us FROM events_raw").to_pylist()
    return {Good(r["entity_id"], r["event"], r["us"]) for r in rows}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(st.one_of(good_csv_row().map(lambda g: ("good", *g)), bad_csv_row.map(lambda b: ("bad", *b)),
                               st.just(("blank", None, None))), max_size=25))
def test_csv_mixed_rows(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["entity_id", "event", "ts", "note", "revenue"])
    goods: list[Good] = []
    bad_lines: list[tuple[int, str]] = []
    for kind, cells, expected in rows:
        line = buffer.getvalue().count("\n") + 1
        if kind == "blank":
            buffer.write("\n")
            continue
        writer.writerow(cells)
        if kind == "good":
            goods.append(expected)
        else:
            bad_lines.append((line, expected))
    data = buffer.getvalue().encode("utf-8").replace(b"BADBYTES", b"\xff\xfe")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mixed.csv"
        path.write_bytes(data)
        store, report = _import(path)
        with store:
            (file,) = report.files
            assert file.rows == file.accepted + file.duplicates + file.rejected
            assert file.rows == len(goods) + len(bad_lines)
            assert set(goods) <= _stored(store)
            assert file.accepted + file.duplicates == len(goods)
            assert file.rejected == len(bad_lines)
            rejects = [(r.line, r.reason) for r in report.files[0].first_rejects]
            for (line, reason), (want_line, want) in zip(rejects, bad_lines, strict=False):
                assert line == want_line and want in reason, (rejects, bad_lines)


@st.composite
def good_json_line(draw: st.DrawFn) -> tuple[str, Good]:
    entity = draw(st.sampled_from(["ann", "bob", "Zoë", "with space", "7"]))
    event = draw(st.sampled_from(["visit", "signup", "buy"]))
    seconds = T_2024 + draw(st.integers(0, 10_000_000))
    props = draw(st.dictionaries(st.sampled_from(["source", "note", "n", "revenue"]),
                                 st.one_of(text, st.integers(-1000, 1000), st.booleans(), st.none()), max_size=3))
    if isinstance(props.get("revenue"), bool | str) or props.get("revenue") is None:
        props.pop("revenue", None)
    if draw(st.booleans()):
        record = {"type": "track", "userId": entity, "event": event, "properties": props,
                  "timestamp": datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")}
    else:
        record = {"entity_id": entity, "event": event, "ts": draw(st.sampled_from([seconds, seconds * 1000])),
                  "properties": props}
    return json.dumps(record, ensure_ascii=draw(st.booleans())), Good(entity, event, seconds * 1_000_000)


bad_json_line = st.sampled_from([
    ('{"entity_id": "ann", "event": "visit"', "invalid JSON"),
    ("[1, 2", "invalid JSON"),
    ("42", "expected a JSON object"),
    ('"just text"', "expected a JSON object"),
    ('{"entity_id": "ann", "event": "visit", "ts": NaN}', "invalid JSON"),
    ('{"event": "visit", "ts": "2024-01-01T00:00:00Z"}', "is missing"),
    ('{"entity_id": "ann", "ts": "2024-01-01T00:00:00Z"}', "event is missing"),
    ('{"entity_id": ["ann"], "event": "visit", "ts": "2024-01-01T00:00:00Z"}', "expected text"),
    ('{"entity_id": "ann", "event": "visit", "ts": true}', "expected a timestamp"),
    ('{"entity_id": "ann", "event": "visit", "ts": "soon"}', "is not a timestamp"),
    ('{"entity_id": "ann", "event": "visit", "ts": 1e30}', "out of range"),
    ('{"entity_id": "ann", "event": "visit", "ts": "2024-01-01T00:00:00Z", "properties": [1]}', "JSON object"),
    ('{"entity_id": "ann", "event": "buy", "ts": "2024-01-01T00:00:00Z", "revenue": "ten"}', "not a number"),
    ('{"entity_id": "\\ud800", "event": "visit", "ts": "2024-01-01T00:00:00Z"}', "surrogate"),
    ('{"type": "track", "userId": "ann", "timestamp": "2024-01-01T00:00:00Z"}', "event (the event name)"),
    ('{"type": "alias", "userId": "ann"}', "previousId and userId"),
    ('{"entity_id": "ann", "event": "visit", "note": "' + HUGE + '"}', "larger than 1 MB"),
    ("BADBYTES", "UTF-8"),
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(first=good_json_line(),
       rows=st.lists(st.one_of(good_json_line().map(lambda g: ("good", *g)), bad_json_line.map(lambda b: ("bad", *b)),
                               st.just(("blank", "", None))), max_size=25))
def test_jsonl_mixed_lines(first, rows):
    rows = [("good", *first), *rows]  # a first good line: a file of nothing but broken lines is refused whole
    goods, bad_lines, lines = [], [], []
    for kind, content, expected in rows:
        lines.append(content)
        if kind == "good":
            goods.append(expected)
        elif kind == "bad":
            bad_lines.append((len(lines), expected))
    data = "\n".join(lines).encode("utf-8").replace(b"BADBYTES", b'{"a": "\xff"}')
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mixed.jsonl"
        path.write_bytes(data)
        store, report = _import(path)
        with store:
            (file,) = report.files
            assert file.rows == file.accepted + file.duplicates + file.rejected
            assert file.rows == len(goods) + len(bad_lines)
            assert set(goods) <= _stored(store)
            assert file.rejected == len(bad_lines)
            rejects = [(r.line, r.reason) for r in file.first_rejects]
            for (line, reason), (want_line, want) in zip(rejects, bad_lines, strict=False):
                assert line == want_line and want in reason, (rejects, bad_lines)


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    with tempfile.TemporaryDirectory() as folder:
        for name in ("junk.csv", "junk.jsonl"):
            path = Path(folder) / name
            path.write_bytes(data)
            store = DuckDBStore.open(":memory:")
            with store:
                try:
                    report = import_files(store, [path])
                except (ImportFormatError, TimezoneError):
                    assert store.query("SELECT count(*) AS n FROM events_raw")["n"][0].as_py() == 0
                    continue
                (file,) = report.files
                assert file.rows == file.accepted + file.duplicates + file.rejected
