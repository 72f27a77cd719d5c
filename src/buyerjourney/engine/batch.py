"""The kernel on Arrow record batches partitioned by entity, e.g. inside Spark's ``mapInArrow``.

A batch holds whole entities (or, through :func:`run_kernel_on_batches`, a stream of batches sorted by
entity, where an entity may span two batches). Columns:

- the entity column (``entity_id`` by default; any Arrow type), ``ts`` (timestamp, or int64 microseconds);
- either ``step_mask`` (and ``exclusion_mask``), bitmasks computed elsewhere, or ``event`` (and
  ``properties``, JSON text) from which they are computed here with the query's filters;
- optionally ``row_id`` (int64, else the row's position) and ``event_id`` (for the chain's event ids).

Strict funnels need every event of an entity, not only the funnel's. One row per entity comes out:
entity, level, excluded, conversions, optional_mask, step_ts (list), step_row (list), step_event_id (list).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerjourney.engine.driver import KernelOutput, as_numpy, run_arrays
from buyerjourney.engine.masks import masks_from_columns
from buyerjourney.engine.query import FunnelQuery
from buyerjourney.errors import InputError

_TS = pa.timestamp("us", tz="UTC")


def _as_table(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    return pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch


def _ts_us(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz=column.type.tz))
    return as_numpy(column.cast(pa.int64()), np.int64)


def _entity_runs(column: pa.Array) -> np.ndarray:
    """Dense 0-based index of each row's entity, for rows grouped by entity."""
    if column.null_count:
        raise InputError("entity column: an event without an entity", field="entity_id")
    n = len(column)
    change = np.ones(n, np.bool_)
    if n > 1:
        change[1:] = np.asarray(pc.not_equal(column.slice(1), column.slice(0, n - 1)).to_pylist(), np.bool_)
    return (np.cumsum(change) - 1).astype(np.int32)


def run_kernel_on_batch(batch: pa.RecordBatch | pa.Table, query: FunnelQuery, entity: str = "entity_id"
                        ) -> pa.RecordBatch:
    """Per-entity funnel results of a batch holding whole entities (see the module docstring)."""
    table = _as_table(batch)
    for name in (entity, "ts"):
        if name not in table.column_names:
            raise InputError(f"batch has no {name!r} column", field=name)
    if table.num_rows:
        ent_col = table.column(entity).combine_chunks()
        runs = _entity_runs(ent_col)
        ts = _ts_us(table.column("ts"))
        grouped = pc.count_distinct(ent_col).as_py() == int(runs[-1]) + 1
        if not grouped or not _time_sorted(runs, ts):
            table = table.take(pc.sort_indices(table, sort_keys=[(entity, "ascending"), ("ts", "ascending")]))
            ent_col = table.column(entity).combine_chunks()
            runs = _entity_runs(ent_col)
            ts = _ts_us(table.column("ts"))
    else:
        ent_col = table.column(entity).combine_chunks()
        runs = np.zeros(0, np.int32)
        ts = np.zeros(0, np.int64)
    if "step_mask" in table.column_names:
        mask = as_numpy(table.column("step_mask"), np.uint32)
        xmask = (as_numpy(table.column("exclusion_mask"), np.uint32)
                 if "exclusion_mask" in table.column_names else np.zeros(len(mask), np.uint32))
    elif "event" in table.column_names:
        props = table.column("properties") if "properties" in table.column_names else None
        mask, xmask = masks_from_columns(table.column("event"), props, query)
    else:
        raise InputError("batch needs step_mask or event (and properties) columns", field="event")
    rowid = (as_numpy(table.column("row_id"), np.int64) if "row_id" in table.column_names
             else np.arange(table.num_rows, dtype=np.int64))
    entities = int(runs[-1]) + 1 if len(runs) else 0
    out = KernelOutput.empty(entities, query.n)
    run_arrays(runs, ts, mask, xmask, rowid, query, out)
    first = np.flatnonzero(np.r_[True, np.diff(runs) != 0]) if len(runs) else np.zeros(0, np.int64)
    return _output(ent_col.take(pa.array(first)), out, query, table, rowid)


def _time_sorted(runs: np.ndarray, ts: np.ndarray) -> bool:
    if len(ts) < 2:
        return True
    same = runs[1:] == runs[:-1]
    return bool((ts[1:][same] >= ts[:-1][same]).all())


def _output(entities: pa.Array, out: KernelOutput, query: FunnelQuery, table: pa.Table,
            rowid: np.ndarray) -> pa.RecordBatch:
    n = query.n
    count = len(out.level)
    chain_ts, chain_row = out.chains()
    valid = chain_row >= 0
    offsets = pa.array(np.arange(0, (count + 1) * n, n, dtype=np.int32))
    flat_ts = pa.array(np.where(valid, chain_ts, 0).ravel(), pa.int64(), mask=~valid.ravel()).cast(_TS)
    flat_row = pa.array(chain_row.ravel(), pa.int64(), mask=~valid.ravel())
    columns = {
        "entity": entities,
        "level": pa.array(out.level, pa.int8()),
        "excluded": pa.array(out.excluded, pa.bool_()),
        "conversions": pa.array(out.conversions, pa.int32()),
        "optional_mask": pa.array(out.optional.astype(np.int64), pa.int64()),
        "step_ts": pa.ListArray.from_arrays(offsets, flat_ts),
        "step_row": pa.ListArray.from_arrays(offsets, flat_row),
    }
    if "event_id" in table.column_names:
        order = np.argsort(rowid, kind="stable")
        at = np.searchsorted(rowid[order], chain_row.ravel())
        where = np.where(valid.ravel(), order[np.minimum(at, len(order) - 1)], 0)
        ids = table.column("event_id").combine_chunks().take(pa.array(where))
        ids = pc.if_else(pa.array(valid.ravel()), ids, pa.nulls(len(ids), ids.type))
        columns["step_event_id"] = pa.ListArray.from_arrays(offsets, ids)
    return pa.RecordBatch.from_pydict(columns)


def run_kernel_on_batches(batches: Iterable[pa.RecordBatch], query: FunnelQuery, entity: str = "entity_id"
                          ) -> Iterator[pa.RecordBatch]:
    """Per-entity results for a stream of batches sorted by entity: an entity cut by a batch boundary is
    carried over to the next batch, so each entity is computed once, on all its events."""
    held: pa.Table | None = None
    for batch in batches:
        table = _as_table(batch)
        if held is not None and held.num_rows:
            table = pa.concat_tables([held, table.select(held.column_names).cast(held.schema)])
        if not table.num_rows:
            held = table
            continue
        ent = table.column(entity).combine_chunks()
        runs = _entity_runs(ent)
        cut = int(np.searchsorted(runs, runs[-1], side="left"))
        if cut:
            yield run_kernel_on_batch(table.slice(0, cut), query, entity)
        held = table.slice(cut)
    if held is not None and held.num_rows:
        yield run_kernel_on_batch(held, query, entity)
