"""The scan kernel: per-entity funnel results from time-sorted arrays (DESIGN section 3).

Input, one row per event, rows grouped by entity and sorted by time inside each entity:

- ``ent``: int32 dense entity index (rows of one entity are contiguous; the index addresses the outputs),
- ``ts``: int64 time (microseconds), ``mask``: uint32 bit k-1 set when the event matches step k,
- ``xmask``: uint32 bit e set when the event matches exclusion e, ``rowid``: int64 id of the event row.

Output, per entity index: level, excluded flag, conversions, optional steps on a best chain (bitmask),
and the chosen chain's step times and row ids (``-INF`` / ``-1`` where a step is not filled).

Three entry points, each compiled once and cached: :func:`run_plain` (:mod:`.kernel_plain`, plain
ordered funnels, linear), :func:`run_general` (ordered or strict with any option, the exact state
search of :mod:`.kernel_dp`) and :func:`run_unordered` (:mod:`.kernel_unordered`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from buyerjourney.engine.kernel_dp import EXCL, INF, LEX, RESET, chain_search, new_workspace, next_excluded
from buyerjourney.engine.kernel_plain import run_plain
from buyerjourney.engine.kernel_unordered import unordered_entity

__all__ = ["run_general", "run_plain", "run_unordered"]

@njit(cache=True, nogil=True)
def _general_entity(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, n: np.int64,
                    W: np.int64, params: np.ndarray, optmask: np.int64, sflag: np.int64, exr: np.ndarray,
                    best: np.ndarray, chain: np.ndarray, ws: tuple) -> tuple[np.int64, bool, np.int64, np.int64, bool]:
    """(level, excluded, conversions, optional-steps-on-a-best-chain mask, fitted the workspace);
    ``chain`` gets positions.

    ``sflag`` is STRICT or 0. Passes: the level (without exclusions); whether a valid chain reaches it;
    the chosen chain; conversions; for each optional step, whether a best chain goes through it.
    """
    E = exr.shape[1]
    full = (np.int64(1) << n) - 1
    req = full & ~optmask
    eflag = EXCL * (E > 0)
    nx = next_excluded(lo, hi, ts, xmask, E) if E > 0 else np.empty((1, 1), np.int64)
    for k in range(n + 1):
        best[k, 0] = 0
    excluded = False
    none = np.int64(-1)
    zero = np.int64(0)
    for k in range(n):
        chain[k] = none
    if E == 0:  # one pass finds the level and the first chain reaching every level
        level, _, _, ok = chain_search(lo, hi, ts, mask, n, W, params, req, sflag | LEX, exr, nx, none, best, ws)
        if not ok:
            return level, excluded, zero, zero, False
        if level > 0:
            for k in range(n):
                chain[k] = best[level, 1 + k]
    else:
        level, _, _, ok = chain_search(lo, hi, ts, mask, n, W, params, req, sflag, exr, nx, none, best, ws)
        if not ok:
            return level, excluded, zero, zero, False
        applies = False
        for e in range(E):
            if exr[0, e] <= level:
                applies = True
        if level > 0 and applies:
            _, found, _, ok = chain_search(lo, hi, ts, mask, n, W, params, req, sflag | eflag, exr, nx, level, best,
                                           ws)
            if not ok:
                return level, excluded, zero, zero, False
            excluded = not found
        if level > 0:
            _, _, _, ok = chain_search(lo, hi, ts, mask, n, W, params, req, sflag | LEX | (eflag * (not excluded)),
                                       exr, nx, level, best, ws)
            if not ok:
                return level, excluded, zero, zero, False
            for k in range(n):
                chain[k] = best[0, 1 + k]
    conv = zero
    opt = zero
    if level > 0 and not excluded:
        if level == n:
            _, _, conv, ok = chain_search(lo, hi, ts, mask, n, W, params, req, sflag | eflag | RESET, exr, nx, none,
                                          best, ws)
            if not ok:
                return level, excluded, conv, opt, False
        for q in range(2, level + 1):
            bit = np.int64(1) << (q - 1)
            if (optmask & bit) == 0:
                continue
            if q == level:
                opt |= bit
                continue
            _, found, _, ok = chain_search(lo, hi, ts, mask, n, W, params, req | bit, sflag | eflag, exr, nx, level,
                                           best, ws)
            if not ok:
                return level, excluded, conv, opt, False
            if found:
                opt |= bit
    return level, excluded, conv, opt, True


@njit(cache=True, nogil=True)
def _write_chain(e: np.int64, chain: np.ndarray, n: np.int64, ts: np.ndarray, rowid: np.ndarray,
                 out_ts: np.ndarray, out_row: np.ndarray) -> None:
    for k in range(n):
        pos = chain[k]
        if pos >= 0:
            out_ts[e, k] = ts[pos]
            out_row[e, k] = rowid[pos]
        else:
            out_ts[e, k] = -INF
            out_row[e, k] = -1


@njit(cache=True, nogil=True)
def _entity_end(ent: np.ndarray, lo: np.int64, N: np.int64) -> np.int64:
    hi = lo + 1
    while hi < N and ent[hi] == ent[lo]:
        hi += 1
    return hi


@njit(cache=True, nogil=True)
def run_general(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, rowid: np.ndarray,
                n: np.int64, W: np.int64, params: np.ndarray, optmask: np.int64, sflag: np.int64, exr: np.ndarray,
                only: np.ndarray, out_level: np.ndarray, out_excl: np.ndarray, out_conv: np.ndarray,
                out_opt: np.ndarray, out_ts: np.ndarray, out_row: np.ndarray) -> np.int64:
    """Ordered or strict funnels with any option (exact state search). ``params``: within per step
    (microseconds, -1 none); ``exr``: from_step and to_step rows, one column per exclusion. With a
    non-empty ``only``, just the entities ``e`` with ``only[e] != 0``. Returns max ts."""
    N = ts.shape[0]
    E = exr.shape[1]
    chain = np.empty(n, np.int64)
    best = np.zeros((n + 1, n + 1), np.int64)
    maxg = np.int64(1)
    q = np.int64(0)
    while q < N:  # the most events at one instant decides the matching scratch
        r = q + 1
        while r < N and ts[r] == ts[q] and ent[r] == ent[q]:
            r += 1
        maxg = max(maxg, r - q)
        q = r
    cap = np.int64(16)
    ws = new_workspace(cap, n, E, maxg)
    latest = -INF
    lo = np.int64(0)
    while lo < N:
        hi = _entity_end(ent, lo, N)
        e = ent[lo]
        if ts[hi - 1] > latest:
            latest = ts[hi - 1]
        if only.shape[0] == 0 or only[e] != 0:
            level, excluded, conv, opt, ok = _general_entity(lo, hi, ts, mask, xmask, n, W, params, optmask, sflag,
                                                             exr, best, chain, ws)
            if not ok:  # more partial chains than the workspace holds: grow it and redo this entity
                cap *= 4
                ws = new_workspace(cap, n, E, maxg)
                continue
            out_level[e] = level
            out_excl[e] = excluded
            out_conv[e] = conv
            out_opt[e] = opt
            _write_chain(e, chain, n, ts, rowid, out_ts, out_row)
        lo = hi
    return latest


@njit(cache=True, nogil=True)
def run_unordered(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, rowid: np.ndarray, n: np.int64, W: np.int64,
                  out_level: np.ndarray, out_conv: np.ndarray, out_ts: np.ndarray, out_row: np.ndarray) -> np.int64:
    """Unordered funnels; the chain is stored per level (the events in time order). Returns max ts."""
    N = ts.shape[0]
    chain = np.empty(n, np.int64)
    latest = -INF
    lo = np.int64(0)
    while lo < N:
        hi = _entity_end(ent, lo, N)
        e = ent[lo]
        if ts[hi - 1] > latest:
            latest = ts[hi - 1]
        level, conv = unordered_entity(lo, hi, ts, mask, n, W, chain)
        out_level[e] = level
        out_conv[e] = conv
        _write_chain(e, chain, n, ts, rowid, out_ts, out_row)
        lo = hi
    return latest
