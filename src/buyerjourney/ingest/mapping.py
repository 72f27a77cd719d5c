"""Column mapping: which column of a file feeds which field of the event contract (DESIGN §2).

``--map entity_id=Email --map ts="Created Date" --map source=Origin``: a target is a contract field
(``event_id``, ``entity_id``, ``anonymous_id``, ``account_id``, ``event``, ``ts``, ``properties``) or any
property name (``source`` above lands in ``properties.source``). Unmapped contract fields are found by
name (any case) or a common alias (``userId``, ``timestamp``…); every other column becomes a property.
``--event NAME`` names the event of every row of a file (a CRM export of deals, say).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from buyerjourney.errors import ImportFormatError, InputError, NotFoundError

CONTRACT = ("event_id", "entity_id", "anonymous_id", "account_id", "event", "ts", "properties")
#: Contract fields holding an id (text; numbers are accepted and written as text).
ID_FIELDS = ("event_id", "entity_id", "anonymous_id", "account_id")
ALIASES: dict[str, tuple[str, ...]] = {
    "event_id": ("messageId", "message_id", "$insert_id", "insert_id"),
    "entity_id": ("userId", "user_id", "distinct_id"),
    "anonymous_id": ("anonymousId",),
    "account_id": ("groupId", "group_id"),
    "event": ("event_name",),
    "ts": ("timestamp", "time"),
}
#: Well-known properties with a type: a value of another type rejects its row.
NUMERIC_PROPERTIES = frozenset({"revenue"})


@dataclass(frozen=True)
class MappingOptions:
    """What the user said about columns: ``--map`` pairs (target -> source column) and ``--event``."""

    maps: dict[str, str] = field(default_factory=dict)
    event: str | None = None

    def __post_init__(self) -> None:
        if self.event is not None and not self.event.strip():
            raise InputError("--event needs a non-empty event name", field="event")
        if self.event is not None and "event" in self.maps:
            raise InputError("give either --event NAME or --map event=COLUMN, not both", field="event")


def parse_maps(items: Sequence[str]) -> dict[str, str]:
    """``["entity_id=Email", "ts=Created Date"]`` -> ``{"entity_id": "Email", "ts": "Created Date"}``."""
    maps: dict[str, str] = {}
    for item in items:
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise InputError(f"--map expects TARGET=COLUMN (e.g. entity_id=Email), got {item!r}", field="map")
        if target in maps:
            raise InputError(f"--map gives {target!r} twice", field="map")
        maps[target] = source
    return maps


@dataclass(frozen=True)
class ColumnPlan:
    """Where each field comes from, for a file with columns ``names`` (indexes into them)."""

    names: list[str]
    fields: dict[str, int]
    properties: list[tuple[str, int]]
    event: str | None

    def source(self, target: str) -> str:
        """The name of the column feeding ``target``."""
        return self.names[self.fields[target]]


def unique_names(header: Sequence[str]) -> list[str]:
    """Header names made usable: blanks become ``column_N``, repeats get ``_2``, ``_3``…"""
    names: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(header):
        base = raw.strip() or f"column_{index + 1}"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        names.append(name)
    return names


def _find(names: Sequence[str], wanted: str) -> int | None:
    if wanted in names:
        return names.index(wanted)
    folded = [i for i, n in enumerate(names) if n.casefold() == wanted.casefold()]
    return folded[0] if len(folded) == 1 else None


def plan_columns(file: str, names: Sequence[str], options: MappingOptions) -> ColumnPlan:
    """Resolve the mapping against a file's column ``names``; refuse a file that lacks what is needed."""
    names = list(names)
    fields: dict[str, int] = {}
    mapped_props: list[tuple[str, int]] = []
    for target, source in options.maps.items():
        index = _find(names, source)
        if index is None:
            shown = ", ".join(repr(n) for n in names[:30]) + (" …" if len(names) > 30 else "")
            raise NotFoundError(f"{file} has no column {source!r} (from --map {target}={source}); "
                                f"its columns are {shown}", field=source)
        if target in CONTRACT:
            fields[target] = index
        else:
            mapped_props.append((target, index))
    used = set(fields.values()) | {i for _, i in mapped_props}
    for target in CONTRACT:
        if target in fields or (target == "event" and options.event is not None):
            continue
        for candidate in (target, *ALIASES.get(target, ())):
            index = _find(names, candidate)
            if index is not None and index not in used:
                fields[target] = index
                used.add(index)
                break
    extras = [(names[i], i) for i in range(len(names)) if i not in used]
    taken = {key for key, _ in mapped_props}
    properties = mapped_props + [(key, i) for key, i in extras if key not in taken]
    plan = ColumnPlan(names, fields, properties, options.event)
    _require(file, plan)
    return plan


def _require(file: str, plan: ColumnPlan) -> None:
    shown = ", ".join(repr(n) for n in plan.names[:30])
    if "event" not in plan.fields and plan.event is None:
        raise ImportFormatError(f"{file} has no 'event' column (columns: {shown}): name one with "
                                f"--map event=COLUMN, or give --event NAME when every row is one kind of event",
                                field="event")
    if "ts" not in plan.fields:
        raise ImportFormatError(f"{file} has no 'ts' column (columns: {shown}): name one with --map ts=COLUMN",
                                field="ts")
    if "entity_id" not in plan.fields and "anonymous_id" not in plan.fields:
        raise ImportFormatError(f"{file} has no 'entity_id' (or 'anonymous_id') column (columns: {shown}): "
                                f"name one with --map entity_id=COLUMN", field="entity_id")


@dataclass(frozen=True)
class KeyPlan:
    """The same mapping for JSON records, whose keys may differ from one line to the next (exact keys)."""

    candidates: dict[str, tuple[str, ...]]
    property_keys: tuple[tuple[str, str], ...]
    explicit: frozenset[str]
    event: str | None

    @classmethod
    def build(cls, options: MappingOptions) -> KeyPlan:
        """The keys to look for, per target, in the order they are tried."""
        candidates = {}
        for target in CONTRACT:
            if target == "event" and options.event is not None:
                continue
            candidates[target] = ((options.maps[target],) if target in options.maps
                                  else (target, *ALIASES.get(target, ())))
        props = tuple((t, s) for t, s in options.maps.items() if t not in CONTRACT)
        return cls(candidates, props, frozenset(options.maps.values()), options.event)
