"""Driver for in-memory events (list of dicts, pandas DataFrame, Arrow table): notebooks and tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerjourney.engine.driver import KernelOutput, Source, as_numpy, run_arrays
from buyerjourney.engine.filters import decode_properties
from buyerjourney.engine.masks import masks_from_columns
from buyerjourney.engine.query import FunnelQuery
from buyerjourney.errors import InputError
from buyerjourney.events import EVENT_SCHEMA, events_table_from_records


def events_table(events: Any) -> pa.Table:
    """The events of the data contract as an :data:`EVENT_SCHEMA` table, from dicts, pandas or Arrow."""
    if isinstance(events, pa.RecordBatch):
        events = pa.Table.from_batches([events])
    if isinstance(events, pa.Table):
        return _conform(events)
    if type(events).__name__ == "DataFrame" and hasattr(events, "to_dict"):
        frame = events
        if "ts" in frame.columns and str(frame["ts"].dtype).startswith("datetime64[") and "," in str(
                frame["ts"].dtype):
            return _conform(pa.Table.from_pandas(frame, preserve_index=False))
        records = frame.to_dict("records")
        return events_table_from_records([{k: v for k, v in r.items() if not _is_missing(v)} for r in records])
    if isinstance(events, Iterable) and not isinstance(events, str | bytes | Mapping):
        return events_table_from_records(events)
    raise InputError("events: expected a list of event dicts, a pandas DataFrame, an Arrow table or a store",
                     field="events")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _conform(table: pa.Table) -> pa.Table:
    """Cast an Arrow table with the contract's columns to :data:`EVENT_SCHEMA` (missing optional ones null)."""
    names = set(table.column_names)
    if not {"event", "ts"} <= names or not ({"entity_id", "anonymous_id"} & names):
        return events_table_from_records(table.to_pylist())
    ts_type = table.schema.field("ts").type
    if not pa.types.is_timestamp(ts_type) or ts_type.tz is None:
        return events_table_from_records(table.to_pylist())
    columns = []
    for f in EVENT_SCHEMA:
        if f.name in names:
            col = table.column(f.name)
            if f.name == "properties" and not pa.types.is_string(col.type):
                col = pa.array([None if v is None else json.dumps(v, sort_keys=True) for v in col.to_pylist()],
                               pa.string())
            columns.append(col.cast(f.type))
        elif f.name == "event_id":
            columns.append(pa.array([f"#{i}" for i in range(table.num_rows)], pa.string()))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    if table.num_rows and (pc.any(pc.is_null(columns[EVENT_SCHEMA.get_field_index("event")])).as_py()
                           or pc.any(pc.is_null(columns[EVENT_SCHEMA.get_field_index("ts")])).as_py()):
        return events_table_from_records(table.to_pylist())
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


class MemorySource(Source):
    """Events held in an Arrow table (sorted by entity, time, event, event_id)."""

    def __init__(self, table: pa.Table, entities: list[str]) -> None:
        self.table = table
        self.entity_list = entities
        self._event_ids: list[str] | None = None
        self._props: pa.ChunkedArray | None = None

    def entity_ids(self, index: np.ndarray) -> list[str]:
        return [self.entity_list[i] for i in np.asarray(index).tolist()]

    def events(self, rows: np.ndarray) -> dict[int, tuple[str, dict[str, Any] | None]]:
        wanted = np.unique(np.asarray(rows)[np.asarray(rows) >= 0])
        if not len(wanted):
            return {}
        ids = self.table.column("event_id").take(pa.array(wanted)).to_pylist()
        props = self.table.column("properties").take(pa.array(wanted)).to_pylist()
        return {int(r): (i, decode_properties(p)) for r, i, p in zip(wanted.tolist(), ids, props, strict=True)}

    def entity_properties(self, name: str, index: np.ndarray) -> list[Any]:
        return [None] * len(index)


def run_memory(events: Any, query: FunnelQuery) -> tuple[KernelOutput, MemorySource]:
    """Run ``query`` over in-memory events; entities are every entity_id (or anonymous_id) present."""
    table = events_table(events)
    entity = pc.coalesce(table.column("entity_id"), table.column("anonymous_id"))
    table = table.append_column("_entity", entity)
    if table.num_rows:
        order = pc.sort_indices(table, sort_keys=[("_entity", "ascending"), ("ts", "ascending"),
                                                  ("event", "ascending"), ("event_id", "ascending")])
        table = table.take(order)
    ent_col = table.column("_entity").combine_chunks() if table.num_rows else pa.array([], pa.string())
    n_rows = table.num_rows
    if n_rows:
        ent_np = ent_col.to_numpy(zero_copy_only=False)
        change = np.empty(n_rows, np.bool_)
        change[0] = True
        change[1:] = ent_np[1:] != ent_np[:-1]
        codes = (np.cumsum(change) - 1).astype(np.int32)
        entities = ent_np[change].tolist()
    else:
        codes = np.zeros(0, np.int32)
        entities = []
    mask, xmask = masks_from_columns(table.column("event"), table.column("properties"), query)
    ts = as_numpy(table.column("ts"), np.int64) if n_rows else np.zeros(0, np.int64)
    latest = int(ts.max()) if n_rows else None
    rowid = np.arange(n_rows, dtype=np.int64)
    keep = None if query.needs_all_events else np.flatnonzero((mask != 0) | (xmask != 0))
    if keep is not None and len(keep) < n_rows:
        codes, ts, mask, xmask, rowid = codes[keep], ts[keep], mask[keep], xmask[keep], rowid[keep]
    out = KernelOutput.empty(len(entities), query.n)
    run_arrays(codes, ts, mask, xmask, rowid, query, out)
    out.latest_us = latest
    return out, MemorySource(table, entities)


