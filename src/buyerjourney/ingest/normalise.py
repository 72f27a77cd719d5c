"""Vectorised validation and normalisation: one SQL statement turns a batch of source rows into staged events.

A batch is an Arrow table with source columns renamed ``c0``, ``c1``… (so no name from a file ever enters
SQL text), plus ``seq`` (order in the file) and ``line``; JSON batches also carry ``pre_reason`` (a reason
found while parsing the line) and ``raw_text``. User values (column names as property keys, ``--event``,
``--timezone``) travel as parameters. Every row comes out either with a ``reason`` (rejected) or normalised
to the event contract, with ``event_id`` derived from the content when the source had none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from buyerjourney.errors import ImportFormatError
from buyerjourney.ingest.formats import FIELD_CAP, RAW_EXCERPT
from buyerjourney.ingest.mapping import ID_FIELDS, NUMERIC_PROPERTIES, ColumnPlan
from buyerjourney.ingest.timestamps import ts_expression, ts_reason

#: JSON number text (kept as written, so ``1.50`` stays ``1.50``); ints with a leading zero stay text.
_INT_JSON = r"-?(0|[1-9][0-9]{0,17})"
_NUM_JSON = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"
#: The event id: the source's, or one derived from the content (the payload of events.content_event_id).
_EVENT_ID = ("coalesce(event_id, 'h:' || left(md5(concat_ws(chr(31), coalesce(entity_id, ''), "
             "coalesce(anonymous_id, ''), event, CAST(epoch_us(ts) AS VARCHAR), coalesce(properties, ''))), 24))")


@dataclass
class Params:
    """Named SQL parameters: ``add(value)`` returns the placeholder to write into the SQL text."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        """Register ``value``; returns its placeholder (``$p0``…)."""
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _base(arrow_type: pa.DataType) -> pa.DataType:
    return arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type


def trimmed(column: str) -> str:
    """SQL for a text cell without surrounding spaces, empty as NULL (only a cell with a space is copied)."""
    return (f"CASE WHEN starts_with({column}, ' ') OR ends_with({column}, ' ') THEN nullif(trim({column}), '') "
            f"ELSE nullif({column}, '') END")


def is_text(arrow_type: pa.DataType) -> bool:
    """True for (dictionary-encoded) string types."""
    t = _base(arrow_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def id_expression(column: str, arrow_type: pa.DataType, *, file: str, name: str) -> str:
    """SQL for an id: trimmed text (empty is missing); integers (and whole floats) are written as text."""
    t = _base(arrow_type)
    if is_text(t):
        return trimmed(column)
    if pa.types.is_integer(t):
        return f"CAST({column} AS VARCHAR)"
    if pa.types.is_floating(t):
        return (f"CASE WHEN isfinite({column}) AND {column} = trunc({column}) AND abs({column}) < 1e18 "
                f"THEN CAST({column}::BIGINT AS VARCHAR) WHEN isfinite({column}) THEN CAST({column} AS VARCHAR) END")
    raise ImportFormatError(f"{file}: column {name!r} has type {arrow_type}; an id must be text or a number",
                            field=name)


def text_value_json(column: str) -> str:
    """A CSV cell as a typed JSON value: numbers, ``true``/``false``, else a string; empty cells are left out."""
    v = column
    return (f"CASE WHEN {v} IS NULL OR {v} = '' THEN NULL "
            f"WHEN regexp_full_match({v}, '{_INT_JSON}') THEN {v} "
            f"WHEN regexp_full_match({v}, '{_NUM_JSON}') AND isfinite(try_cast({v} AS DOUBLE)) THEN {v} "
            f"WHEN {v} IN ('true', 'false', 'TRUE', 'FALSE', 'True', 'False') THEN lower({v}) "
            f"ELSE to_json({v}) END")


def typed_value_json(column: str, arrow_type: pa.DataType) -> str:
    """A typed (Parquet) column as a JSON value; nulls (and NaN) are left out."""
    t = _base(arrow_type)
    if pa.types.is_floating(t):
        return f"CASE WHEN isfinite({column}) THEN to_json({column}) END"
    if pa.types.is_integer(t):
        return f"CAST({column} AS VARCHAR)"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return f"to_json(to_base64({column}::BLOB))"
    if pa.types.is_decimal(t):
        return f"CAST({column} AS VARCHAR)"
    return f"to_json({column})"


def numeric_value_json(column: str, arrow_type: pa.DataType, *, file: str, name: str) -> tuple[str, str]:
    """JSON value and problem SQL for a property that must be a number (``revenue``)."""
    t = _base(arrow_type)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return typed_value_json(column, t), "NULL"
    if not is_text(t):
        raise ImportFormatError(f"{file}: column {name!r} has type {arrow_type}; it must hold numbers", field=name)
    v = trimmed(column)
    ok = f"regexp_full_match({v}, '{_NUM_JSON}') AND isfinite(try_cast({v} AS DOUBLE))"
    return f"CASE WHEN {ok} THEN {v} END", f"CASE WHEN {v} IS NOT NULL AND NOT ({ok}) THEN to_json(left({v}, 100)) END"


@dataclass(frozen=True)
class SourceShape:
    """How a batch's columns are typed: text cells to type by value (CSV) or typed columns (Parquet)."""

    types: list[pa.DataType]
    text_cells: bool = False
    trusted_properties: bool = False  # JSON path: properties already built (a JSON object) in Python
    check_sizes: bool = True  # JSON lines are capped as a whole before parsing


def parquet_source(path: str, columns: int, p: Params) -> str:
    """A relation reading a Parquet file straight in DuckDB, shaped like a batch (``c0``…, bookkeeping)."""
    picks = ", ".join(f"#{i + 1} AS c{i}" for i in range(columns))
    return (f"(SELECT {picks}, file_row_number AS seq, file_row_number + 1 AS line, NULL::VARCHAR AS pre_reason, "
            f"NULL::VARCHAR AS raw_text FROM read_parquet({p.add(path)}, file_row_number = true))")


def events_sql(plan: ColumnPlan, shape: SourceShape, *, file: str, timezone: str | None,
               source: str = "_bj_batch", params: Params | None = None) -> EventsSql:
    """``SELECT …`` normalising every row of ``source``: ``seq, line, reason, raw`` then the event columns.

    Valid rows have ``reason`` NULL and the event contract's columns filled (``event_id`` derived from the
    content where the source had none); rejected rows have ``reason`` and ``raw`` (their cells, cut short).

    ``params`` holds placeholders already used in ``source`` (see :func:`parquet_source`).
    """
    p = params or Params()
    cols = [f"c{i}" for i in range(len(plan.names))]
    select: dict[str, str] = {}
    for name in ID_FIELDS:
        index = plan.fields.get(name)
        select[name] = ("NULL::VARCHAR" if index is None else
                        id_expression(cols[index], shape.types[index], file=file, name=plan.names[index]))
    if plan.event is not None:
        select["event"] = f"{p.add(plan.event)}::VARCHAR"
    else:
        index = plan.fields["event"]
        if not is_text(shape.types[index]):
            raise ImportFormatError(f"{file}: column {plan.names[index]!r} (the event name) must be text",
                                    field=plan.names[index])
        select["event"] = trimmed(cols[index])
    ts_index = plan.fields["ts"]
    tz = p.add(timezone) if timezone else None
    ts = ts_expression("ts_src", shape.types[ts_index], tz=tz, file=file, name=plan.names[ts_index])
    select["ts_src"] = cols[ts_index]
    base, base_problem = _base_properties(plan, shape, cols, file)
    extras, extras_problem = _extra_properties(plan, shape, cols, p, file)
    select["props_base"] = base
    select["props_extra"] = extras
    select["props_problem"] = f"coalesce({base_problem}, {extras_problem})"
    select["oversize"] = _oversize(plan, shape, cols, p)
    raw = f"coalesce(left(raw_text, {RAW_EXCERPT}), {_raw_json(plan.names, cols, p)})"
    if plan.fields.get("properties") is None and not plan.properties:
        props = "NULL::VARCHAR"
    elif plan.fields.get("properties") is None:
        props = "nullif(props_extra, '{}')"
    elif not plan.properties:
        props = "props_base"
    else:
        props = ("CASE WHEN props_extra = '{}' THEN props_base "
                 "ELSE CAST(json_merge_patch(coalesce(props_base, '{}'), props_extra) AS VARCHAR) END")
    label = p.add(plan.names[ts_index])
    entity_missing = p.add(f"{_label(plan, 'entity_id')} (or {_label(plan, 'anonymous_id')}) is missing")
    event_missing = p.add(f"{_label(plan, 'event')} is missing")
    projections = ",\n               ".join(f"{expr} AS {name}" for name, expr in select.items())
    sql = f"""
        WITH a AS (
            SELECT *, pre_reason AS pre,
               {projections}
            FROM {source}),
        b AS (SELECT *, {ts.kind} AS ts_kind FROM a),
        c AS (SELECT *, {ts.ts} AS ts FROM b),
        d AS (
            SELECT *, CASE
                WHEN pre IS NOT NULL THEN pre
                WHEN oversize IS NOT NULL THEN oversize
                WHEN entity_id IS NULL AND anonymous_id IS NULL THEN {entity_missing}
                WHEN event IS NULL THEN {event_missing}
                ELSE coalesce({ts_reason("ts_src", label, tz=tz)}, props_problem) END AS reason
            FROM c),
        e AS (SELECT *, CASE WHEN reason IS NULL THEN {props} END AS properties FROM d)
        SELECT seq, line, reason, CASE WHEN reason IS NOT NULL THEN {raw} END AS raw,
            CASE WHEN reason IS NULL THEN {_EVENT_ID} END AS event_id,
            entity_id, anonymous_id, account_id, event, CASE WHEN reason IS NULL THEN ts END AS ts, properties
        FROM e"""
    # The same rows when every one is known to be valid: nothing depends on the reason any more, so DuckDB
    # drops the checks (the unused placeholders still bind).
    clean = sql[:sql.index("        e AS (")] + f"""        e AS (SELECT *, {props} AS properties FROM d)
        SELECT seq, line, NULL::VARCHAR AS reason, CASE WHEN false THEN {raw} END AS raw, {_EVENT_ID} AS event_id,
            entity_id, anonymous_id, account_id, event, ts, properties
        FROM e"""
    return EventsSql(sql, clean, p.values)


@dataclass(frozen=True)
class EventsSql:
    """The normalising query (``full``: every row, with reasons), its all-valid twin, and their parameters."""

    full: str
    clean: str
    params: dict[str, Any]


def _label(plan: ColumnPlan, target: str) -> str:
    index = plan.fields.get(target)
    return target if index is None else plan.names[index]


def _base_properties(plan: ColumnPlan, shape: SourceShape, cols: list[str], file: str) -> tuple[str, str]:
    """The ``properties`` column (a JSON object as text, or a struct/map) and why it is unusable."""
    index = plan.fields.get("properties")
    if index is None:
        return "NULL::VARCHAR", "NULL"
    c = cols[index]
    t = _base(shape.types[index])
    if shape.trusted_properties:
        return c, "NULL"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return f"CAST(to_json({c}) AS VARCHAR)", "NULL"
    if not is_text(t):
        raise ImportFormatError(f"{file}: column {plan.names[index]!r} has type {t}; properties must be a JSON "
                                f"object (text) or a struct", field=plan.names[index])
    text = trimmed(c)
    kind = f"try(json_type({text}))"
    problem = (f"CASE WHEN {text} IS NULL THEN NULL WHEN {kind} IS NULL THEN 'properties is not valid JSON' "
               f"WHEN {kind} <> 'OBJECT' THEN 'properties is not a JSON object' END")
    return text, problem


def _extra_properties(plan: ColumnPlan, shape: SourceShape, cols: list[str], p: Params,
                      file: str) -> tuple[str, str]:
    """Mapped and unmapped extra columns as one JSON object text (nulls left out), and type problems."""
    if not plan.properties:
        return "'{}'", "NULL"
    pairs, problems = [], []
    for key, index in plan.properties:
        c, t = cols[index], shape.types[index]
        if key in NUMERIC_PROPERTIES:
            value, problem = numeric_value_json(c, t, file=file, name=plan.names[index])
            if problem != "NULL":
                problems.append(f"{p.add(key + ': ')} || {problem} || ' is not a number'")
        elif shape.text_cells and is_text(t):
            value = text_value_json(c)
        else:
            value = typed_value_json(c, t)
        pairs.append(f"CASE WHEN ({value}) IS NOT NULL THEN to_json({p.add(key)}::VARCHAR) || ':' || ({value}) END")
    problem = f"coalesce({', '.join(problems)})" if problems else "NULL"
    return "'{' || concat_ws(',', " + ", ".join(pairs) + ") || '}'", problem


def _oversize(plan: ColumnPlan, shape: SourceShape, cols: list[str], p: Params) -> str:
    """The first text field over :data:`FIELD_CAP` bytes, as a reason (or NULL); JSON lines are capped earlier."""
    if not shape.check_sizes:
        return "NULL::VARCHAR"
    checks = [f"WHEN strlen({cols[i]}) > {FIELD_CAP} THEN {p.add(f'field {name!r} is larger than 1 MB')}"
              for i, name in enumerate(plan.names) if is_text(shape.types[i])]
    return f"CASE {' '.join(checks)} END" if checks else "NULL::VARCHAR"


def _raw_json(names: list[str], cols: list[str], p: Params) -> str:
    """A rejected row's cells as a JSON object (each cell cut to the excerpt size), for the rejects report."""
    pairs = [f"to_json({p.add(name)}::VARCHAR) || ':' || to_json(left(CAST({cols[i]} AS VARCHAR), {RAW_EXCERPT}))"
             for i, name in enumerate(names)]
    return "left('{' || concat_ws(',', " + ", ".join(pairs) + f") || '}}', {RAW_EXCERPT * 4})"


#: Columns of a JSON links batch (identify / alias), in order.
LINK_COLUMNS = ("message_id", "from_id", "to_id", "ts", "traits", "kind")


def links_sql(*, file_idx: int, timezone: str | None, target: str = "_bj_links",
              source: str = "_bj_batch") -> tuple[str, dict[str, Any]]:
    """``INSERT INTO target SELECT …`` staging identify / alias links (columns :data:`LINK_COLUMNS`)."""
    p = Params()
    tz = p.add(timezone) if timezone else None
    ts = ts_expression("ts_src", pa.string(), tz=tz, file="", name="timestamp")
    label = p.add("timestamp")
    raw = f"coalesce(left(raw_text, {RAW_EXCERPT}), {_raw_json(list(LINK_COLUMNS), [f'c{i}' for i in range(6)], p)})"
    sql = f"""
        INSERT INTO {target}
        WITH a AS (SELECT *, c3 AS ts_src FROM {source}),
        b AS (SELECT *, {ts.kind} AS ts_kind FROM a),
        c AS (SELECT *, {ts.ts} AS ts FROM b),
        d AS (SELECT *, coalesce(pre_reason, {ts_reason("ts_src", label, tz=tz)}) AS reason FROM c)
        SELECT {file_idx}, seq, line, reason, CASE WHEN reason IS NOT NULL THEN {raw} END,
            c5, c1, c2, CASE WHEN reason IS NULL THEN ts END, c4,
            CASE WHEN reason IS NULL THEN coalesce(c0, 'h:' || left(md5(concat_ws(chr(31), c5, coalesce(c1, ''), c2,
                CAST(epoch_us(ts) AS VARCHAR), coalesce(c4, ''))), 24)) END
        FROM d"""
    return sql, p.values
