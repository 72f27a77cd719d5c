"""The event schema: the single source of truth for the columns of the data contract (DESIGN §2)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from buyerjourney.errors import InputError, TimezoneError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Columns of an event as accepted from any input, after normalisation.
EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string()),  # the identified person (Segment userId)
        pa.field("anonymous_id", pa.string()),  # pre-identification visitor id
        pa.field("account_id", pa.string()),
        pa.field("event", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("properties", pa.string()),  # a JSON object, as text
    ]
)

#: Identity links: ``from_id`` (an anonymous id, or an earlier user id via alias) belongs to ``to_id``.
IDENTITY_SCHEMA = pa.schema(
    [
        pa.field("from_id", pa.string(), nullable=False),
        pa.field("to_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # identify | alias | event
        pa.field("message_id", pa.string(), nullable=False),
    ]
)

#: Traits from identify messages (explicit data about a person: size, industry, role…).
TRAITS_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("traits", pa.string(), nullable=False),
        pa.field("message_id", pa.string(), nullable=False),
    ]
)

#: Marketing spend.
SPEND_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("campaign", pa.string()),
        pa.field("amount", pa.float64(), nullable=False),
        pa.field("currency", pa.string()),
    ]
)

#: Well-known properties (DESIGN §2).
WELL_KNOWN_PROPERTIES = (
    "source",
    "campaign",
    "capture",
    "product",
    "lead_type",
    "revenue",
    "currency",
    "referrer_id",
)


def content_event_id(entity_id: str | None, anonymous_id: str | None, event: str, ts_us: int,
                     properties_json: str | None) -> str:
    """A stable id derived from an event's content, so re-importing the same row adds nothing.

    The same payload and hash as the file importers' SQL (``ingest.normalise``), so an event gets one id
    whichever way it arrives.
    """
    payload = "\x1f".join([entity_id or "", anonymous_id or "", event, str(ts_us), properties_json or ""])
    return "h:" + hashlib.md5(payload.encode(), usedforsecurity=False).hexdigest()[:24]


def to_epoch_us(value: object, *, field: str = "ts") -> int:
    """Microseconds since the epoch from an ISO-8601 string with zone, epoch seconds/ms, or aware datetime."""
    if isinstance(value, bool):
        raise InputError(f"{field}: expected a timestamp, got {value!r}", field=field)
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 1e11 else value  # epoch ms vs epoch s
        return round(seconds * 1_000_000)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise InputError(f"{field}: {value!r} is not an ISO-8601 timestamp", field=field) from None
        value = parsed
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TimezoneError(f"{field}: {value.isoformat()} has no time zone", field=field)
        delta = value - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    raise InputError(f"{field}: expected a timestamp, got {value!r}", field=field)


def events_table_from_records(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build an :data:`EVENT_SCHEMA` table from event dicts of the data contract (strict: raises on a bad row).

    For notebooks and tests; files go through :mod:`buyerjourney.ingest`, which reports bad rows instead.
    """
    columns: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA.names}
    for index, record in enumerate(records):
        entity_id = record.get("entity_id")
        anonymous_id = record.get("anonymous_id")
        if entity_id is None and anonymous_id is None:
            raise InputError(f"event {index}: entity_id (or anonymous_id) is required", field="entity_id")
        name = record.get("event")
        if not isinstance(name, str) or not name:
            raise InputError(f"event {index}: event name is required", field="event")
        if record.get("ts") is None:
            raise InputError(f"event {index}: ts is required", field="ts")
        ts_us = to_epoch_us(record["ts"])
        props = record.get("properties")
        if props is not None and not isinstance(props, Mapping | str):
            raise InputError(f"event {index}: properties must be a JSON object", field="properties")
        props_json = props if isinstance(props, str) or props is None else json.dumps(props, sort_keys=True)
        entity = None if entity_id is None else str(entity_id)
        anonymous = None if anonymous_id is None else str(anonymous_id)
        event_id = record.get("event_id")
        columns["event_id"].append(
            str(event_id) if event_id is not None else content_event_id(entity, anonymous, name, ts_us, props_json))
        columns["entity_id"].append(entity)
        columns["anonymous_id"].append(anonymous)
        account = record.get("account_id")
        columns["account_id"].append(None if account is None else str(account))
        columns["event"].append(name)
        columns["ts"].append(ts_us)
        columns["properties"].append(props_json)
    arrays = [pa.array(columns[f.name], pa.int64() if f.name == "ts" else f.type) for f in EVENT_SCHEMA]
    arrays[EVENT_SCHEMA.get_field_index("ts")] = arrays[EVENT_SCHEMA.get_field_index("ts")].cast(
        EVENT_SCHEMA.field("ts").type)
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)
