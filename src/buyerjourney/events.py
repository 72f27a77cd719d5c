"""The event schema: the single source of truth for the columns of the data contract (DESIGN §2)."""

from __future__ import annotations

import pyarrow as pa

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
