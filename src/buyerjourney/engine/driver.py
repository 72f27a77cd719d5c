"""Feeding the kernel: what both drivers share (outputs, sources, running arrays, carrying entities over).

The drivers (:mod:`.driver_memory` for in-memory events, :mod:`.driver_store` for the DuckDB store)
produce a :class:`KernelOutput` (per-entity arrays indexed by a dense entity index) and a
:class:`Source`, which answers the drill-down questions (entity ids, event ids, properties) lazily, so
that the headline numbers never pay for strings they do not show.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from buyerjourney.arrays import as_numpy
from buyerjourney.engine.kernel import run_general_all, run_plain_all, run_unordered
from buyerjourney.engine.kernel_dp import INF
from buyerjourney.engine.kernel_dp import STRICT as STRICT_FLAG
from buyerjourney.engine.query import FunnelQuery

__all__ = ["KernelOutput", "Source", "as_numpy", "carry_over", "merge_latest", "run_arrays"]

US = 1_000_000


@dataclass
class KernelOutput:
    """Per-entity kernel results; row ``i`` is the entity of dense index ``i``."""

    level: np.ndarray  # int8
    excluded: np.ndarray  # bool
    conversions: np.ndarray  # int32
    optional: np.ndarray  # uint32: optional steps (bit k-1) on one of the entity's best chains
    # The chosen chains, step-major ([steps, entities]) so that a many-step funnel only touches the memory
    # of the steps entities reached. Defined for steps < level only: read them with step_ts / step_row.
    chain_ts: np.ndarray  # int64 microseconds; -INF for a skipped (optional) step
    chain_row: np.ndarray  # int64 event row id; -1 for a skipped step
    latest_us: int | None  # the latest event time scanned

    @classmethod
    def empty(cls, entities: int, n: int) -> KernelOutput:
        """Outputs for ``entities`` entities: level 0 (so no chain step is defined)."""
        return cls(np.zeros(entities, np.int8), np.zeros(entities, np.bool_), np.zeros(entities, np.int32),
                   np.zeros(entities, np.uint32), np.empty((n, entities), np.int64), np.empty((n, entities), np.int64),
                   None)

    def step_ts(self, k: int) -> np.ndarray:
        """Time of each entity's chosen-chain event at step ``k`` (0-based); MISSING where not filled."""
        return np.where(self.level > k, self.chain_ts[k], -INF)

    def step_row(self, k: int) -> np.ndarray:
        """Event row id of each entity's chosen-chain event at step ``k`` (0-based); -1 where not filled."""
        return np.where(self.level > k, self.chain_row[k], -1)

    def chains(self, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """([entities, steps] times, row ids) of the chosen chains, MISSING / -1 where not filled."""
        level = self.level if index is None else self.level[index]
        ts = self.chain_ts if index is None else self.chain_ts[:, index]
        rows = self.chain_row if index is None else self.chain_row[:, index]
        filled = np.arange(ts.shape[0])[:, None] < level[None, :]
        return np.where(filled, ts, -INF).T, np.where(filled, rows, -1).T


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
        run_plain_all(ent, ts, mask, rowid, query.n, query.window * US, out.level, out.conversions, out.chain_ts,
                      out.chain_row, only)
        if not only.any():
            return int(ts.max())
    params = np.array([-1 if s.within is None else s.within * US for s in query.steps], np.int64)
    exr = np.array([[x.from_step for x in query.exclusions], [x.to_step for x in query.exclusions]],
                   np.int64).reshape(2, len(query.exclusions))
    sflag = np.int64(STRICT_FLAG if query.order == "strict" else 0)
    run_general_all(ent, ts, mask, xmask, rowid, query.n, query.window * US, params, query.optional_mask, sflag,
                    exr, only, out.level, out.excluded, out.conversions, out.optional, out.chain_ts, out.chain_row)
    return int(ts.max())


def _ro(a: np.ndarray, dtype: type) -> np.ndarray:
    """A contiguous read-only view (one compiled kernel signature whatever the arrays' origin)."""
    view = np.ascontiguousarray(a, dtype).view()
    view.flags.writeable = False
    return view


def merge_latest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)




def carry_over(batches: Iterable[Sequence[np.ndarray]]) -> Iterator[tuple[np.ndarray, ...]]:
    """Re-cut entity-sorted array batches so that no entity is split (the first array is the entity index).

    The last entity of a batch waits for the next batch; only its rows and the next batch's rows of the
    same entity are copied, never a whole batch.
    """
    held: tuple[np.ndarray, ...] | None = None
    for batch in batches:
        arrays = tuple(batch)
        ent = arrays[0]
        if not len(ent):
            continue
        start = 0
        if held is not None:
            if ent[0] == held[0][-1]:
                start = int(np.searchsorted(ent, ent[0], side="right")) if ent[-1] != ent[0] else len(ent)
                held = tuple(np.concatenate([a, b[:start]]) for a, b in zip(held, arrays, strict=True))
            if start == len(ent):
                continue  # the whole batch belongs to the held entity
            yield held
        cut = int(np.searchsorted(ent, ent[-1], side="left"))
        if cut > start:
            yield tuple(a[start:cut] for a in arrays)
        held = tuple(a[cut:] for a in arrays)
    if held is not None and len(held[0]):
        yield held
