"""JSON: JSON Lines of events or Segment messages, ``{"batch": [...]}`` lines, or one JSON document.

Lines are parsed one by one in Python (the only per-row loop of the importers); each becomes a row of the
canonical event columns (or an identity link), or a reason. Timestamps, ids and the rest are then checked
and normalised in SQL with the other formats. A line over 1 MB is rejected unread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa

from buyerjourney.errors import ImportFormatError, NotFoundError
from buyerjourney.ingest.batches import Batch, columns_table, with_book
from buyerjourney.ingest.formats import FIELD_CAP, RAW_EXCERPT, open_binary
from buyerjourney.ingest.mapping import CONTRACT, NUMERIC_PROPERTIES, KeyPlan
from buyerjourney.ingest.normalise import LINK_COLUMNS
from buyerjourney.ingest.segment import EventRow, LinkRow, Rejected, is_segment, segment_row, text_id, ts_text

_ROWS = 20_000
_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]", re.ASCII)
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PREVIEW_LINES = 100
#: A file read as one JSON document (when its first line is not JSON by itself) is at most this big.
_DOCUMENT_CAP = 512 << 20


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def loads(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity (not JSON), with one decoder for every line."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def read_lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)``; ``None`` for a line over the cap (skipped unread)."""
    number = 0
    while True:
        chunk = handle.readline(FIELD_CAP + 2)
        if not chunk:
            return
        number += 1
        if len(chunk) > FIELD_CAP + 1 or (len(chunk) == FIELD_CAP + 2 and not chunk.endswith(b"\n")):
            while chunk and not chunk.endswith(b"\n"):
                chunk = handle.readline(1 << 20)
            yield number, None
            continue
        yield number, chunk


@dataclass
class _Rows:
    """Rows accumulated for the next events batch and links batch (turned into columns when flushed)."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    event_book: list[tuple[Any, ...]] = field(default_factory=list)  # line, pre_reason, raw_text
    links: list[tuple[Any, ...]] = field(default_factory=list)
    link_book: list[tuple[Any, ...]] = field(default_factory=list)

    def event(self, values: tuple[Any, ...], line: int | None, reason: str | None, raw: str | None) -> None:
        self.events.append(values)
        self.event_book.append((line, reason, raw))

    def link(self, values: tuple[Any, ...], line: int | None) -> None:
        self.links.append(values)
        self.link_book.append((line, None, None))

    def size(self) -> int:
        return len(self.event_book) + len(self.link_book)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class JsonReader:
    """Reads a JSON file into events and links batches (``read()`` yields ``("events"|"links", Batch)``)."""

    def __init__(self, path: Path, plan: KeyPlan) -> None:
        self.path = path
        self.plan = plan
        self.parsed = 0  # lines (or documents) that were JSON at all
        self.lines = 0
        self._event_seq = 0
        self._link_seq = 0
        self._rows = _Rows()

    # -- checks before anything is read in full --------------------------------------------------
    def preflight(self) -> None:
        """Refuse a file whose first line is not JSON, or that lacks a key named by ``--map``."""
        records: list[Any] = []
        with open_binary(self.path) as handle:
            first = True
            for number, raw in read_lines(handle):
                if raw is None or not raw.strip():
                    continue
                text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
                try:
                    records.extend(_records(loads(text)))
                except (ValueError, RecursionError):
                    if first:
                        document = self._maybe_document(raw, handle)
                        if document is not _NOT_A_DOCUMENT:
                            records.extend(_records(document))
                            break
                        if not text.startswith(("{", "[")):
                            raise ImportFormatError(f"{self.path} is not JSON (line {number} is not a JSON value)",
                                                    field="file") from None
                first = False
                if number >= _PREVIEW_LINES:
                    break
        plain = [r for r in records if isinstance(r, dict) and not is_segment(r)]
        if plain:
            seen = {key for record in plain for key in record}
            missing = sorted(k for k in self.plan.explicit if k not in seen)
            if missing:
                raise NotFoundError(f"{self.path} has no field {missing[0]!r} (named by --map) in its first "
                                    f"{_PREVIEW_LINES} lines; its fields include {sorted(seen)[:30]}",
                                    field=missing[0])

    # -- reading --------------------------------------------------------------------------------
    def read(self) -> Iterator[tuple[str, Batch]]:
        """Batches of events and links, in file order; progress is in bytes."""
        with open_binary(self.path) as handle:
            counter = _Counter(handle)
            first = True
            for number, raw in read_lines(counter):
                if raw is not None and not raw.strip():
                    continue
                self.lines += 1
                if first and raw is not None:
                    first = False
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                    document = self._maybe_document(raw, handle)
                    if document is not _NOT_A_DOCUMENT:
                        self.parsed += 1
                        self._dispatch(document, None, "")
                        yield from self._flush(counter.read_bytes, force=True)
                        return
                self._line(number, raw)
                if self._rows.size() >= _ROWS:
                    yield from self._flush(counter.read_bytes)
            yield from self._flush(counter.read_bytes, force=True)
        if self.lines and not self.parsed:
            raise ImportFormatError(f"{self.path} is not JSON: none of its {self.lines:,} lines is a JSON value",
                                    field="file")

    def _maybe_document(self, raw: bytes, handle: BinaryIO) -> Any:
        """A whole-file JSON document (e.g. a pretty-printed batch) when the first line alone is not JSON."""
        text = raw.decode("utf-8", "replace").strip()
        if not text.startswith(("{", "[")) or self.path.stat().st_size > _DOCUMENT_CAP:
            return _NOT_A_DOCUMENT
        try:
            loads(text)
            return _NOT_A_DOCUMENT
        except (ValueError, RecursionError):
            pass
        with open_binary(self.path) as whole:
            content = whole.read()
        try:
            return loads(content.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            return _NOT_A_DOCUMENT

    def _line(self, number: int, raw: bytes | None) -> None:
        if raw is None:
            self._reject(number, "line is larger than 1 MB", None)
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._reject(number, "not valid UTF-8", raw.decode("utf-8", "replace"))
            return
        try:
            obj = loads(text)
        except json.JSONDecodeError as exc:
            self._reject(number, f"invalid JSON: {exc.msg} (column {exc.colno})", text)
            return
        except (ValueError, RecursionError) as exc:
            self._reject(number, f"invalid JSON: {exc}" if isinstance(exc, ValueError) else
                         "invalid JSON: nested too deeply", text)
            return
        self.parsed += 1
        if _SURROGATE.search(text) and not _encodable(obj):
            self._reject(number, "invalid JSON: a \\u escape is a lone surrogate (not Unicode text)", text)
            return
        self._dispatch(obj, number, "")

    def _dispatch(self, obj: Any, line: int | None, where: str, context: Mapping[str, Any] | None = None) -> None:
        if isinstance(obj, list):
            for index, item in enumerate(obj):
                self._dispatch(item, line, f"{where}[{index}]", context)
            if not obj:
                self._reject(line, f"{where or 'line'}: an empty list holds no event", "[]")
            return
        if isinstance(obj, dict) and isinstance(obj.get("batch"), list) and "type" not in obj:
            inherited = obj.get("context") if isinstance(obj.get("context"), dict) else None
            for index, item in enumerate(obj["batch"]):
                self._dispatch(item, line, f"{where}batch[{index}]", inherited)
            if not obj["batch"]:
                self._reject(line, f"{where}batch: an empty batch holds no message", "{\"batch\": []}")
            return
        prefix = f"{where}: " if where else ""
        try:
            if not isinstance(obj, dict):
                raise Rejected(f"expected a JSON object, got {_short(obj)}")
            row = segment_row(obj, context) if is_segment(obj) else plain_event(obj, self.plan)
            self._accept(row, line)
        except Rejected as exc:
            self._reject(line, f"{prefix}{exc}", _excerpt(obj))

    def _accept(self, row: EventRow | LinkRow, line: int | None) -> None:
        if isinstance(row, EventRow):
            props = json.dumps(row.properties, sort_keys=True, ensure_ascii=False) if row.properties else None
            self._rows.event((row.event_id, row.entity_id, row.anonymous_id, row.account_id, row.event, row.ts,
                              props), line, None, None)
        else:
            traits = None if row.traits is None else json.dumps(row.traits, sort_keys=True, ensure_ascii=False)
            self._rows.link((row.message_id, row.from_id, row.to_id, row.ts, traits, row.kind), line)

    def _reject(self, line: int | None, reason: str, raw: str | None) -> None:
        self._rows.event((None,) * len(CONTRACT), line, reason, None if raw is None else raw[:RAW_EXCERPT])

    def _flush(self, done: int, force: bool = False) -> Iterator[tuple[str, Batch]]:
        rows = self._rows
        if rows.event_book and (force or rows.size() >= _ROWS):
            table = columns_table(_columns(rows.events, len(CONTRACT)), [pa.string()] * len(CONTRACT))
            line, reason, raw = _columns(rows.event_book, 3)
            yield "events", Batch(with_book(table, self._event_seq, line, reason, raw), done)
            self._event_seq += table.num_rows
        if rows.link_book and (force or rows.size() >= _ROWS):
            table = columns_table(_columns(rows.links, len(LINK_COLUMNS)), [pa.string()] * len(LINK_COLUMNS))
            line, reason, raw = _columns(rows.link_book, 3)
            yield "links", Batch(with_book(table, self._link_seq, line, reason, raw), done)
            self._link_seq += table.num_rows
        self._rows = _Rows()


_NOT_A_DOCUMENT = object()


class _Counter:
    """A binary stream that counts the bytes read (progress)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.read_bytes = 0

    def readline(self, limit: int = -1) -> bytes:
        data = self.handle.readline(limit)
        self.read_bytes += len(data)
        return data


def _records(obj: Any) -> Iterator[Any]:
    if isinstance(obj, list):
        yield from obj
    elif isinstance(obj, dict) and isinstance(obj.get("batch"), list):
        yield from obj["batch"]
    else:
        yield obj


def _encodable(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _excerpt(obj: Any) -> str | None:
    try:
        return json.dumps(obj, ensure_ascii=False)[:RAW_EXCERPT]
    except (TypeError, ValueError):
        return None


def plain_event(obj: Mapping[str, Any], plan: KeyPlan) -> EventRow:
    """A JSON record of the event contract (with ``--map`` applied): the contract fields and properties."""
    values: dict[str, Any] = {}
    consumed: set[str] = set()
    for target, keys in plan.candidates.items():
        for key in keys:
            if key in obj:
                values[target] = obj[key]
                consumed.add(key)
                break
    props = values.get("properties")
    if isinstance(props, str):  # a JSON object written as text, as many exports of JSON columns do
        props = _object_in_text(props)
    if props is not None and not isinstance(props, dict):
        raise Rejected(f"properties: expected a JSON object, got {_short(props)}")
    properties = dict(props or {})
    for name, key in plan.property_keys:
        if key in obj and obj[key] is not None:
            properties[name] = obj[key]
            consumed.add(key)
    for key, value in obj.items():
        if key not in consumed and value is not None:
            properties.setdefault(key, value)
    for name in NUMERIC_PROPERTIES:
        if name in properties:
            properties[name] = _number(properties[name], name)
    ids = {t: text_id(values.get(t), t) for t in ("event_id", "entity_id", "anonymous_id", "account_id")}
    if plan.event is not None:
        event = plan.event
    else:
        name = values.get("event")
        if name is not None and not isinstance(name, str):
            raise Rejected(f"event: expected text, got {_short(name)}")
        event = (name or "").strip()
    if not event:
        raise Rejected("event is missing")
    return EventRow(ids["event_id"], ids["entity_id"], ids["anonymous_id"], ids["account_id"], event,
                    ts_text(values.get("ts"), "ts"), properties)


def _object_in_text(text: str) -> Any:
    """The JSON object a text holds; anything else is returned as it was (and refused by the caller)."""
    try:
        parsed = loads(text)
    except (ValueError, RecursionError):
        return text
    return parsed if isinstance(parsed, dict) else text


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    raise Rejected(f"{name}: {_short(value)} is not a number")
