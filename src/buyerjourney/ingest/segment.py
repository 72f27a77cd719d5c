"""Segment HTTP Tracking API messages (``track``, ``page``, ``screen``, ``group``, ``identify``, ``alias``).

A message becomes an event (track / page / screen / group), an identity link with traits (identify), or a
link (alias). ``userId`` is the entity, ``anonymousId`` the visitor before opt-in, ``messageId`` the event id.
The campaign a visit came from (``context.campaign``, i.e. UTM parameters) fills the well-known properties
``source``, ``campaign`` (and ``medium``, ``term``, ``content``) unless the message's properties set them, and
``context.page.referrer`` fills ``referrer``, so traffic-source attribution works on Segment data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEGMENT_TYPES = frozenset({"track", "page", "screen", "group", "identify", "alias"})
_TS_KEYS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
_CAMPAIGN = (("source", "source"), ("name", "campaign"), ("medium", "medium"), ("term", "term"),
             ("content", "content"))


class Rejected(Exception):
    """A message (or JSON record) that cannot be imported; the message is the reason."""


@dataclass(frozen=True)
class EventRow:
    """An event in the canonical columns (properties as a dict)."""

    event_id: str | None
    entity_id: str | None
    anonymous_id: str | None
    account_id: str | None
    event: str
    ts: str | None
    properties: dict[str, Any]


@dataclass(frozen=True)
class LinkRow:
    """An identify (``from_id`` may be None: traits only) or alias link."""

    kind: str
    message_id: str | None
    from_id: str | None
    to_id: str
    ts: str | None
    traits: dict[str, Any] | None


def is_segment(obj: Mapping[str, Any]) -> bool:
    """True when ``obj`` looks like a Segment message (a known ``type``)."""
    kind = obj.get("type")
    return isinstance(kind, str) and kind.lower() in SEGMENT_TYPES


def text_id(value: Any, name: str) -> str | None:
    """An id as text: strings (trimmed; empty is missing) and integers; anything else is a reason."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise Rejected(f"{name}: expected text, got {_kind(value)}")


def ts_text(value: Any, name: str) -> str | None:
    """A timestamp as text for the SQL parser: ISO strings as they are, numbers (epoch) as digits."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    raise Rejected(f"{name}: expected a timestamp (ISO-8601 text or epoch number), got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"text {value[:60]!r}"
    return "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected(f"{name}: expected a JSON object, got {_kind(value)}")
    return dict(value)


def segment_row(message: Mapping[str, Any], inherited: Mapping[str, Any] | None = None) -> EventRow | LinkRow:
    """Turn one Segment message into an event or a link; raises :class:`Rejected` with the reason."""
    kind = str(message.get("type")).lower()
    context = {**_object(inherited, "context"), **_object(message.get("context"), "context")}
    message_id = text_id(message.get("messageId"), "messageId")
    user = text_id(message.get("userId"), "userId")
    anonymous = text_id(message.get("anonymousId"), "anonymousId")
    ts_key = next((k for k in _TS_KEYS if message.get(k) is not None), "timestamp")
    ts = ts_text(message.get(ts_key), ts_key)
    if kind == "alias":
        previous = text_id(message.get("previousId"), "previousId")
        if previous is None or user is None:
            raise Rejected("alias: previousId and userId are required")
        return LinkRow("alias", message_id, previous, user, ts, None)
    if user is None and anonymous is None:
        raise Rejected(f"{kind}: userId or anonymousId is required")
    if kind == "identify":
        traits = _object(message.get("traits", context.get("traits")), "traits")
        return LinkRow("identify", message_id, anonymous if user else None, user or anonymous or "", ts, traits)
    account = text_id(context.get("groupId"), "context.groupId")
    if kind == "group":
        event, properties = "group", _object(message.get("traits"), "traits")
        account = text_id(message.get("groupId"), "groupId") or account
        if account is None:
            raise Rejected("group: groupId is required")
    else:
        properties = _object(message.get("properties"), "properties")
        if kind == "track":
            name = message.get("event")
            if not isinstance(name, str) or not name.strip():
                raise Rejected("track: event (the event name) is required")
            event = name.strip()
        else:  # page / screen
            event = kind
            for key in ("name", "category"):
                if isinstance(message.get(key), str):
                    properties.setdefault(key, message[key])
    _attribution(properties, context)
    return EventRow(message_id, user, anonymous, account, event, ts, properties)


def _attribution(properties: dict[str, Any], context: Mapping[str, Any]) -> None:
    campaign = context.get("campaign")
    if isinstance(campaign, dict):
        for key, target in _CAMPAIGN:
            if isinstance(campaign.get(key), str | int | float) and not isinstance(campaign.get(key), bool):
                properties.setdefault(target, campaign[key])
    page = context.get("page")
    if isinstance(page, dict) and isinstance(page.get("referrer"), str) and page["referrer"]:
        properties.setdefault("referrer", page["referrer"])
