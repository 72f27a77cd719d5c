"""Ties in the event index: events of one entity with the same time and name go in ``event_id`` order.

The index is sorted on (entity_key, ts, event_key) only, which is far cheaper than adding the text id to the
sort key; rows equal on all three come out in any order. Such ties are rare, so after the sort they are found
in one pass over the index and only their ``raw_row`` values are put in ``event_id`` order, the order the
funnel engine uses everywhere (so that the chosen event of a tie is the same from a store or from memory).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from buyerjourney.arrays import as_numpy

_INDEX_TYPES = (np.int32, np.int64, np.int32, np.int64)


def tied_positions(batches: Iterable[pa.RecordBatch]) -> tuple[np.ndarray, np.ndarray]:
    """Find the ties in batches of (entity_key, ts, event_key, raw_row) in index order.

    Returns ``(tied, raw_rows)``: the positions ``q`` whose row has the same entity, time and event as row
    ``q - 1``, and the ``raw_row`` of each position of :func:`run_members` ``(tied)``, in that order.
    """
    tied: list[np.ndarray] = []
    members: list[np.ndarray] = []
    raws: list[np.ndarray] = []
    offset = 0
    last: tuple[int, ...] | None = None
    for batch in batches:
        ent, ts, ek, raw = (as_numpy(batch.column(i), t) for i, t in enumerate(_INDEX_TYPES))
        if not len(ent):
            continue
        if last is not None and last[:3] == (int(ent[0]), int(ts[0]), int(ek[0])):
            tied.append(np.array([offset], np.int64))
            members.append(np.array([offset - 1, offset], np.int64))
            raws.append(np.array([last[3], raw[0]], np.int64))
        same = np.flatnonzero((ent[1:] == ent[:-1]) & (ts[1:] == ts[:-1]) & (ek[1:] == ek[:-1])) + 1
        if len(same):
            local = run_members(same)
            tied.append(same + offset)
            members.append(local + offset)
            raws.append(raw[local].astype(np.int64))
        last = (int(ent[-1]), int(ts[-1]), int(ek[-1]), int(raw[-1]))
        offset += len(ent)
    if not tied:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, first = np.unique(np.concatenate(members), return_index=True)
    return np.unique(np.concatenate(tied)), np.concatenate(raws)[first]


def run_members(tied: np.ndarray) -> np.ndarray:
    """Positions of every row in a tie run (the first row of each run included), ascending."""
    return np.unique(np.concatenate([tied - 1, tied]))


def reordered_ties(tied: np.ndarray, members: np.ndarray, raw_rows: np.ndarray, event_ids: list[str]) -> np.ndarray:
    """The ``raw_rows`` of the run ``members`` (from :func:`run_members`), each run put in event_id order."""
    run = np.cumsum(~np.isin(members, tied))
    order = np.array(sorted(range(len(members)), key=lambda i: (run[i], event_ids[i])), np.int64)
    return raw_rows[order]


def order_index_ties(con: Any) -> int:
    """Put the tie runs of ``event_index`` (on connection ``con``) in event_id order; returns the rows moved.

    Rows are matched on ``raw_row``, unique in the index, so this works on a table still local to the
    transaction that built it.
    """
    reader = con.sql("SELECT entity_key, ts, event_key, raw_row FROM event_index").to_arrow_reader(1 << 20)
    tied, raw_rows = tied_positions(reader)
    if not len(tied):
        return 0
    members = run_members(tied)
    con.register("_tied", pa.table({"r": pa.array(raw_rows), "pos": pa.array(np.arange(len(members)))}))
    try:
        found = con.sql("SELECT t.pos, e.event_id FROM events_raw e JOIN _tied t ON e.rowid = t.r").to_arrow_table()
    finally:
        con.unregister("_tied")
    event_ids: list[Any] = [None] * len(members)
    for pos, event_id in zip(found.column(0).to_pylist(), found.column(1).to_pylist(), strict=True):
        event_ids[pos] = event_id
    new_rows = reordered_ties(tied, members, raw_rows, event_ids)
    moved = new_rows != raw_rows
    fix = pa.table({"old": pa.array(raw_rows[moved]), "new": pa.array(new_rows[moved])})
    con.register("_tie_fix", fix)
    try:
        con.execute("UPDATE event_index SET raw_row = f.new FROM _tie_fix f WHERE event_index.raw_row = f.old")
    finally:
        con.unregister("_tie_fix")
    return int(moved.sum())
