"""Feeding the kernel: from in-memory events (list of dicts, pandas, Arrow) or from the DuckDB store.

Both drivers produce a :class:`KernelOutput` (per-entity arrays indexed by a dense entity index) and a
:class:`Source`, which answers the drill-down questions (entity ids, event ids, properties) lazily, so
that the headline numbers never pay for strings they do not show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerjourney.engine.kernel import run_general, run_plain, run_unordered
from buyerjourney.engine.kernel_dp import INF
from buyerjourney.engine.kernel_dp import STRICT as STRICT_FLAG
from buyerjourney.engine.masks import masks_from_columns, store_mask_sql
from buyerjourney.engine.query import FunnelQuery
from buyerjourney.errors import InputError, StoreError
from buyerjourney.events import EVENT_SCHEMA, events_table_from_records

if TYPE_CHECKING:
    from buyerjourney.store import DuckDBStore

US = 1_000_000


@dataclass
class KernelOutput:
    """Per-entity kernel results; row ``i`` is the entity of dense index ``i``."""

    level: np.ndarray  # int8
    excluded: np.ndarray  # bool
    conversions: np.ndarray  # int32
    optional: np.ndarray  # uint32: optional steps (bit k-1) on one of the entity's best chains
    chain_ts: np.ndarray  # int64 [entities, steps], microseconds; INF-negative where not filled
    chain_row: np.ndarray  # int64 [entities, steps]; -1 where not filled
    latest_us: int | None  # the latest event time scanned

    @classmethod
    def empty(cls, entities: int, n: int) -> KernelOutput:
        """Zeroed outputs for ``entities`` entities (level 0, no chain)."""
        return cls(np.zeros(entities, np.int8), np.zeros(entities, np.bool_), np.zeros(entities, np.int32),
                   np.zeros(entities, np.uint32), np.full((entities, n), -INF, np.int64),
                   np.full((entities, n), -1, np.int64), None)


class Source:
    """Where the events came from: resolves entity indexes and event rows to ids and properties."""

    def entity_ids(self, index: np.ndarray) -> list[str]:
        """Entity ids for dense entity indexes."""
        raise NotImplementedError

    def events(self, rows: np.ndarray) -> dict[int, tuple[str, dict[str, Any] | None]]:
        """``row -> (event_id, properties)`` for event row ids (``-1`` rows are skipped)."""
        raise NotImplementedError

    def entity_properties(self, name: str, index: np.ndarray) -> list[Any]:
        """An entity-level property (traits) per dense entity index; ``None`` where unknown."""
        return [None] * len(index)


def run_arrays(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, rowid: np.ndarray,
               query: FunnelQuery, out: KernelOutput) -> int | None:
    """Run the kernel over whole entities held in arrays, writing into ``out`` at ``ent``; returns max ts."""
    if len(ts) == 0:
        return None
    ent, ts, mask, xmask, rowid = (_ro(ent, np.int32), _ro(ts, np.int64), _ro(mask, np.uint32),
                                   _ro(xmask, np.uint32), _ro(rowid, np.int64))
    n, window = np.int64(query.n), np.int64(query.window * US)
    if query.order == "unordered":
        return int(run_unordered(ent, ts, mask, rowid, n, window, out.level, out.conversions, out.chain_ts,
                                 out.chain_row))
    only = np.zeros(0, np.int8)
    if query.is_plain:
        only = np.zeros(len(out.level), np.int8)
        latest = run_plain(ent, ts, mask, rowid, n, window, out.level, out.conversions, out.chain_ts,
                           out.chain_row, only)
        if not only.any():
            return int(latest)
    within = np.array([-1 if s.within is None else s.within * US for s in query.steps], np.int64)
    ex_from = np.array([x.from_step for x in query.exclusions], np.int64)
    ex_to = np.array([x.to_step for x in query.exclusions], np.int64)
    sflag = np.int64(STRICT_FLAG if query.order == "strict" else 0)
    return int(run_general(ent, ts, mask, xmask, rowid, n, window, within, np.int64(query.optional_mask), sflag,
                           ex_from, ex_to, only, out.level, out.excluded, out.conversions, out.optional,
                           out.chain_ts, out.chain_row))


def _ro(a: np.ndarray, dtype: type) -> np.ndarray:
    """A contiguous read-only view (one compiled kernel signature whatever the arrays' origin)."""
    view = np.ascontiguousarray(a, dtype).view()
    view.flags.writeable = False
    return view


def _merge_latest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


# -- in-memory events ----------------------------------------------------------------------------
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
        from buyerjourney.engine.filters import decode_properties

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
    ts = table.column("ts").combine_chunks().cast(pa.int64()).to_numpy() if n_rows else np.zeros(0, np.int64)
    rowid = np.arange(n_rows, dtype=np.int64)
    keep = None if query.needs_all_events else np.flatnonzero((mask != 0) | (xmask != 0))
    if keep is not None and len(keep) < n_rows:
        codes, ts, mask, xmask, rowid = codes[keep], ts[keep], mask[keep], xmask[keep], rowid[keep]
    out = KernelOutput.empty(len(entities), query.n)
    out.latest_us = run_arrays(codes, ts, mask, xmask, rowid, query, out)
    if n_rows:
        out.latest_us = int(table.column("ts").cast(pa.int64()).to_numpy().max())
    return out, MemorySource(table, entities)


# -- the DuckDB store ----------------------------------------------------------------------------
class StoreSource(Source):
    """The store's ``events``/``entities`` tables; event rows are the ``events`` table's rowids."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store

    def entity_ids(self, index: np.ndarray) -> list[str]:
        keys = np.asarray(index, np.int64)
        if not len(keys):
            return []
        rows = self.store.query("SELECT entity_key, entity_id FROM entities WHERE entity_key IN "
                                "(SELECT unnest(?::BIGINT[]))", [keys.tolist()])
        lookup = dict(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True))
        return [lookup[k] for k in keys.tolist()]

    def events(self, rows: np.ndarray) -> dict[int, tuple[str, dict[str, Any] | None]]:
        wanted = np.unique(np.asarray(rows)[np.asarray(rows) >= 0])
        if not len(wanted):
            return {}
        table = self.store.query("SELECT rowid, event_id, properties FROM events WHERE rowid IN "
                                 "(SELECT unnest(?::BIGINT[]))", [wanted.tolist()])
        from buyerjourney.engine.filters import decode_properties

        return {int(r): (i, decode_properties(p)) for r, i, p in zip(
            table.column(0).to_pylist(), table.column(1).to_pylist(), table.column(2).to_pylist(), strict=True)}

    def entity_properties(self, name: str, index: np.ndarray) -> list[Any]:
        keys = np.asarray(index, np.int64)
        if not len(keys):
            return []
        pointer = "/" + name.replace("~", "~0").replace("/", "~1")
        table = self.store.query(
            "SELECT e.entity_key, arg_max(json_extract(t.traits, ?), t.ts) FROM traits t "
            "JOIN entities e ON e.entity_id = t.entity_id WHERE json_type(t.traits, ?) IS NOT NULL "
            "AND e.entity_key IN (SELECT unnest(?::BIGINT[])) GROUP BY e.entity_key", [pointer, pointer, keys.tolist()])
        found = {k: (None if v is None else json.loads(v)) for k, v in zip(
            table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)}
        return [found.get(k) for k in keys.tolist()]


def _store_batches(store: DuckDBStore, query: FunnelQuery, batch_size: int
                   ) -> tuple[Iterator[tuple[np.ndarray, ...]], np.ndarray, np.ndarray]:
    names = store.event_names()
    lut, xlut, step_sql, excl_sql, params, used = store_mask_sql(query, names)
    columns = ["entity_key", "ts", "event_key", "rowid"]
    if step_sql:
        columns.append(f"({step_sql}) AS _fmask")
    if excl_sql:
        columns.append(f"({excl_sql}) AS _xmask")
    sql = f"SELECT {', '.join(columns)} FROM events"
    if not query.needs_all_events:
        if not used:
            return iter(()), lut, xlut
        sql += " WHERE event_key IN (SELECT unnest(?::INTEGER[]))"
        params = [*params, used]
    try:
        reader = store.con.sql(sql, params=params or None).to_arrow_reader(batch_size)
    except Exception as exc:  # duckdb.Error; the store owns the driver import
        raise StoreError(f"funnel scan failed: {str(exc).splitlines()[0]}") from exc

    def arrays() -> Iterator[tuple[np.ndarray, ...]]:
        for batch in reader:
            ek = batch.column(2).to_numpy()
            mask = lut[ek]
            xmask = xlut[ek]
            at = 4
            if step_sql:
                mask = mask | batch.column(at).to_numpy().astype(np.uint32)
                at += 1
            if excl_sql:
                xmask = xmask | batch.column(at).to_numpy().astype(np.uint32)
            ts = batch.column(1).cast(pa.int64()) if batch.column(1).type != pa.int64() else batch.column(1)
            yield (batch.column(0).to_numpy(), ts.to_numpy(), mask, xmask, batch.column(3).to_numpy())

    return arrays(), lut, xlut


def run_store(store: DuckDBStore, query: FunnelQuery, batch_size: int = 1 << 21) -> tuple[KernelOutput, StoreSource]:
    """Stream the store's clustered ``events`` through the kernel (entities spanning batches carried over)."""
    entities = int(store.query("SELECT coalesce(max(entity_key) + 1, 0) AS n FROM entities").column(0)[0].as_py())
    out = KernelOutput.empty(entities, query.n)
    batches, _, _ = _store_batches(store, query, batch_size)
    latest: int | None = None
    for chunk in carry_over(batches):
        _check_sorted(chunk[0], chunk[1])
        latest = _merge_latest(latest, run_arrays(*chunk, query, out))
    out.latest_us = latest
    return out, StoreSource(store)


def carry_over(batches: Iterable[Sequence[np.ndarray]]) -> Iterator[tuple[np.ndarray, ...]]:
    """Re-cut entity-sorted array batches so that no entity is split: the last entity of each batch
    waits for the next one (the first array of each batch is the entity index)."""
    held: tuple[np.ndarray, ...] | None = None
    for batch in batches:
        arrays = tuple(batch)
        if held is not None:
            arrays = tuple(np.concatenate([a, b]) for a, b in zip(held, arrays, strict=True))
        ent = arrays[0]
        if not len(ent):
            held = arrays
            continue
        cut = int(np.searchsorted(ent, ent[-1], side="left")) if _non_decreasing(ent) else _last_run(ent)
        if cut > 0:
            yield tuple(a[:cut] for a in arrays)
        held = tuple(a[cut:] for a in arrays)
    if held is not None and len(held[0]):
        yield held


def _non_decreasing(ent: np.ndarray) -> bool:
    return bool(len(ent) < 2 or (ent[1:] >= ent[:-1]).all())


def _last_run(ent: np.ndarray) -> int:
    change = np.flatnonzero(ent[1:] != ent[:-1])
    return int(change[-1] + 1) if len(change) else 0


def _check_sorted(ent: np.ndarray, ts: np.ndarray) -> None:
    if len(ent) < 2:
        return
    same = ent[1:] == ent[:-1]
    if not ((ent[1:] >= ent[:-1]).all() and (ts[1:][same] >= ts[:-1][same]).all()):
        raise StoreError("the store's events table is not clustered by (entity, time): run a refresh "
                         "(buyerjourney import does it)")
