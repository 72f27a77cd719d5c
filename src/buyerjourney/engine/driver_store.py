"""Driver for the DuckDB store: stream the clustered ``event_index`` table through the kernel.

The index is stored sorted by (entity_key, ts, event_key), ties in event_id order; a scan without ORDER BY keeps
that order (DuckDB preserves insertion order for filters and projections), so nothing is sorted at query
time; the order is still checked on every batch. Only integer columns travel: entity_key, ts (as int64
microseconds), event_key (turned into step bitmasks through a lookup table) and raw_row (the event's row in
``events_raw``). When some steps filter on properties, DuckDB works out the bits those filters add over
``events_raw`` first (only the rows of the filtered events), and the scan picks them up by raw_row.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from buyerjourney.engine.driver import KernelOutput, Source, as_numpy, carry_over, merge_latest, run_arrays
from buyerjourney.engine.filters import decode_properties
from buyerjourney.engine.masks import store_mask_sql
from buyerjourney.engine.query import FunnelQuery
from buyerjourney.errors import StoreError
from buyerjourney.store import DuckDBStore
from buyerjourney.store.duckdb import INDEX_COLUMNS

#: Below this share of the store's events, the scan filters on the funnel's events in DuckDB.
FILTER_BELOW = 0.6


class StoreSource(Source):
    """The store's ``event_index``/``entities`` tables; event rows are ``events_raw`` rowids."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store

    def entity_ids(self, index: np.ndarray) -> list[str]:
        keys = np.asarray(index, np.int64)
        if not len(keys):
            return []
        table = self.store.query("SELECT k.pos, e.entity_id FROM _keys k JOIN entities e ON e.entity_key = k.key",
                                 tables={"_keys": pa.table({"key": pa.array(keys),
                                                            "pos": pa.array(np.arange(len(keys)))})})
        if table.num_rows != len(keys):
            raise StoreError("an entity of the result is missing from the store's entities table")
        ids = np.empty(len(keys), dtype=object)
        ids[as_numpy(table.column(0), np.int64)] = table.column(1).to_pylist()
        return ids.tolist()

    def events(self, rows: np.ndarray) -> dict[int, tuple[str, dict[str, Any] | None]]:
        wanted = np.unique(np.asarray(rows)[np.asarray(rows) >= 0])
        if not len(wanted):
            return {}
        table = self.store.query("SELECT e.rowid, e.event_id, e.properties FROM events_raw e SEMI JOIN _wanted w "
                                 "ON e.rowid = w.r", tables={"_wanted": pa.table({"r": pa.array(wanted)})})
        return {int(r): (i, decode_properties(p)) for r, i, p in zip(
            table.column(0).to_pylist(), table.column(1).to_pylist(), table.column(2).to_pylist(), strict=True)}

    def entity_properties(self, name: str, index: np.ndarray) -> list[Any]:
        keys = np.asarray(index, np.int64)
        if not len(keys):
            return []
        pointer = "/" + name.replace("~", "~0").replace("/", "~1")
        table = self.store.query(
            "SELECT e.entity_key, arg_max(json_extract(t.traits, ?), t.ts)::VARCHAR FROM traits t "
            "JOIN entities e ON e.entity_id = t.entity_id WHERE json_type(t.traits, ?) IS NOT NULL "
            "AND e.entity_key IN (SELECT unnest(?::BIGINT[])) GROUP BY e.entity_key",
            [pointer, pointer, keys.tolist()])
        found = {k: (None if v is None else json.loads(v)) for k, v in zip(
            table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)}
        return [found.get(k) for k in keys.tolist()]


def _filter_bits(store: DuckDBStore, step_sql: str, excl_sql: str, params: list[Any],
                 keys: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Bits the property filters add, by ``events_raw`` row (dense arrays, zero where nothing is added)."""
    size = int(store.query("SELECT count(*) AS n FROM events_raw").column(0)[0].as_py())
    sql = (f"SELECT r.rowid, ({step_sql or '0'}) AS f, ({excl_sql or '0'}) AS x FROM events_raw r "
           "JOIN event_names n ON n.event = r.event WHERE list_contains(?, n.event_key)")
    try:
        table = store.con.sql(f"SELECT * FROM ({sql}) WHERE f <> 0 OR x <> 0", params=[*params, keys]).to_arrow_table()
    except Exception as exc:  # duckdb.Error (the store owns the driver import)
        raise StoreError(f"funnel filter failed: {str(exc).splitlines()[0]}") from exc
    rows = as_numpy(table.column(0), np.int64)
    if len(rows) and int(rows.max()) >= size:
        size = int(rows.max()) + 1
    step_bits = np.zeros(size, np.uint32)
    excl_bits = np.zeros(size, np.uint32)
    step_bits[rows] = as_numpy(table.column(1), np.uint32)
    excl_bits[rows] = as_numpy(table.column(2), np.uint32)
    return step_bits, excl_bits


def _scan(store: DuckDBStore, query: FunnelQuery, batch_size: int) -> Iterator[tuple[np.ndarray, ...]]:
    """Arrays (entity_key, ts us, step mask, exclusion mask, raw_row) of the events the funnel needs."""
    names = store.event_names()
    lut, xlut, step_sql, excl_sql, params, used = store_mask_sql(query, names)
    if not used:
        return
    counts = {r["event_key"]: r["events"] for r in store.query("SELECT event_key, events FROM event_names").to_pylist()}
    total = sum(counts.values())
    share = sum(counts.get(k, 0) for k in used) / total if total else 1.0
    filtered = not query.needs_all_events and share < FILTER_BELOW
    bits = None
    if step_sql or excl_sql:
        bits = _filter_bits(store, step_sql, excl_sql, params, used)
    for batch in store.scan(INDEX_COLUMNS, used if filtered else None, batch_size):
        ek = as_numpy(batch.column(2), np.int32)
        rowid = as_numpy(batch.column(3), np.int64)
        mask = lut[ek]
        xmask = xlut[ek]
        if bits is not None:
            mask = mask | bits[0][rowid]
            xmask = xmask | bits[1][rowid]
        yield as_numpy(batch.column(0), np.int32), as_numpy(batch.column(1), np.int64), mask, xmask, rowid


@njit(cache=True, nogil=True)
def is_clustered(ent: np.ndarray, ts: np.ndarray) -> bool:
    """Entities non-decreasing, and time non-decreasing within each entity."""
    ok = True
    for q in range(1, ent.shape[0]):
        if ent[q] < ent[q - 1] or (ent[q] == ent[q - 1] and ts[q] < ts[q - 1]):
            ok = False
            break
    return ok


_END = object()


def _in_background(items: Iterator[Any], depth: int = 8) -> Iterator[Any]:
    """Produce ``items`` in a thread while the caller consumes them (DuckDB and the kernel both release
    the GIL, so the scan and the kernel overlap on two cores)."""
    handoff: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    worker = threading.Thread(target=produce, name="buyerjourney-scan", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def run_store(store: DuckDBStore, query: FunnelQuery, batch_size: int = 1 << 21) -> tuple[KernelOutput, StoreSource]:
    """Run ``query`` over the store; every entity of the store gets a row (level 0 when it did nothing)."""
    if store.needs_refresh:
        raise StoreError(f"the store {store.path} has events not yet indexed: call store.refresh() first "
                         "(buyerjourney funnel does it for you)", field="db")
    entities = int(store.query("SELECT coalesce(max(entity_key) + 1, 0) AS n FROM entities").column(0)[0].as_py())
    out = KernelOutput.empty(entities, query.n)
    latest: int | None = None
    for chunk in carry_over(_in_background(_scan(store, query, batch_size))):
        if not is_clustered(chunk[0], chunk[1]):
            raise StoreError("the store's event index is not clustered by (entity, time): refresh the store "
                             "(buyerjourney import does it)")
        latest = merge_latest(latest, run_arrays(*chunk, query, out))
    out.latest_us = latest
    return out, StoreSource(store)
