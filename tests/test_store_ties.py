"""Tie runs in the event index: found across batch boundaries, put in event_id order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from buyerjourney.store.ties import reordered_ties, run_members, tied_positions


def batches(rows: list[tuple[int, int, int, int]], size: int) -> list[pa.RecordBatch]:
    cols = list(zip(*rows, strict=True))
    table = pa.table({"entity_key": pa.array(cols[0], pa.int32()), "ts": pa.array(cols[1], pa.int64()),
                      "event_key": pa.array(cols[2], pa.int32()), "raw_row": pa.array(cols[3], pa.int64())})
    return table.to_batches(max_chunksize=size)


def test_ties_are_found_inside_and_across_batches():
    rows = [(0, 1, 0, 10), (0, 1, 0, 11), (0, 2, 0, 12), (1, 5, 2, 13), (1, 5, 2, 14), (1, 5, 2, 15), (1, 5, 3, 16)]
    for size in (1, 2, 3, 7):
        tied, raws = tied_positions(batches(rows, size))
        assert tied.tolist() == [1, 4, 5], size
        assert run_members(tied).tolist() == [0, 1, 3, 4, 5]
        assert raws.tolist() == [10, 11, 13, 14, 15], size


def test_no_ties():
    tied, raws = tied_positions(batches([(0, 1, 0, 1), (0, 1, 1, 2), (1, 1, 0, 3)], 2))
    assert len(tied) == len(raws) == 0


def test_each_run_is_put_in_event_id_order():
    tied = np.array([1, 4, 5])
    members = run_members(tied)
    new = reordered_ties(tied, members, np.array([10, 11, 13, 14, 15]), ["b", "a", "z", "x", "y"])
    assert new.tolist() == [11, 10, 14, 15, 13]
