"""The scan kernel: per-entity funnel results from time-sorted arrays (DESIGN section 3).

Input, one row per event, rows grouped by entity and sorted by time inside each entity:

- ``ent``: int32 dense entity index (rows of one entity are contiguous; the index addresses the outputs),
- ``ts``: int64 time (microseconds), ``mask``: uint32 bit k-1 set when the event matches step k,
- ``xmask``: uint32 bit e set when the event matches exclusion e, ``rowid``: int64 id of the event row.

Output, per entity index: level, excluded flag, conversions, optional steps on a best chain (bitmask),
and the chosen chain's step times and row ids, step-major (``out_ts[k, e]``), written for the steps
before the level only (``-INF`` / ``-1`` for a skipped optional step).

Three entry points, each compiled once and cached: :func:`run_plain` (:mod:`.kernel_plain`, plain
ordered funnels, linear), :func:`run_general` (ordered or strict with any option, the exact state
search of :mod:`.kernel_dp`) and :func:`run_unordered` (:mod:`.kernel_unordered`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from buyerjourney.engine.kernel_dp import EXCL, INF, LEX, RESET, chain_search, new_workspace, next_excluded
from buyerjourney.engine.kernel_plain import run_plain, run_plain_all
from buyerjourney.engine.kernel_unordered import unordered_entity

__all__ = ["run_general", "run_general_all", "run_plain", "run_plain_all", "run_unordered"]

_LEVEL, _VALID, _CHOSEN, _CONV, _OPT, _DONE = 0, 1, 2, 3, 4, 5


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _general_entity(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, n: np.int64,
                    W: np.int64, params: np.ndarray, optmask: np.int64, sflag: np.int64, exr: np.ndarray,
                    best: np.ndarray, chain: np.ndarray, ws: tuple, nx: np.ndarray
                    ) -> tuple[np.int64, bool, np.int64, np.int64, bool]:
    """(level, excluded, conversions, optional-steps-on-a-best-chain mask, fitted the workspace);
    ``chain`` gets positions.

    ``sflag`` is STRICT or 0. Passes over the events, one after the other (one call site, so the search
    is compiled once, inline): the level (without exclusions; with no exclusions, also the chosen chain);
    whether a valid chain reaches it; the chosen chain; conversions; then, for each optional step,
    whether a best chain goes through it.
    """
    E = exr.shape[1]
    full = (np.int64(1) << n) - 1
    req = full & ~optmask
    eflag = EXCL * (E > 0)
    if E > 0:
        next_excluded(lo, hi, ts, xmask, E, nx)
    for k in range(n + 1):
        best[k, 0] = 0
    for k in range(n):
        chain[k] = -1
    level = np.int64(0)
    excluded = False
    conv = np.int64(0)
    opt = np.int64(0)
    stage = _LEVEL
    q = np.int64(2)
    while stage != _DONE:
        reqmask = req
        target = np.int64(-1)
        if stage == _LEVEL:
            flags = sflag | (LEX if E == 0 else 0)
        elif stage == _VALID:
            flags = sflag | eflag
            target = level
        elif stage == _CHOSEN:
            flags = sflag | LEX | (eflag * (not excluded))
            target = level
        elif stage == _CONV:
            flags = sflag | eflag | RESET
        else:  # _OPT: the next optional step before the level (one at the level is on every best chain)
            while q <= level and ((optmask >> (q - 1)) & 1) == 0:
                q += 1
            if q > level:
                break
            if q == level:
                opt |= np.int64(1) << (q - 1)
                break
            flags = sflag | eflag
            target = level
            reqmask = req | (np.int64(1) << (q - 1))
        found_level, found, count, ok = chain_search(lo, hi, ts, mask, n, W, params, reqmask, flags, exr, nx, target,
                                                     best, ws)
        if not ok:
            return level, excluded, conv, opt, False
        if stage == _LEVEL:
            level = found_level
            if level == 0:
                stage = _DONE
            elif E == 0:
                for k in range(n):
                    chain[k] = best[level, 1 + k]
                stage = _CONV if level == n else _OPT
            else:
                applies = False
                for e in range(E):
                    if exr[0, e] <= level:
                        applies = True
                stage = _VALID if applies else _CHOSEN
        elif stage == _VALID:
            excluded = not found
            stage = _CHOSEN
        elif stage == _CHOSEN:
            for k in range(n):
                chain[k] = best[0, 1 + k]
            stage = _DONE if excluded else (_CONV if level == n else _OPT)
        elif stage == _CONV:
            conv = count
            stage = _OPT
        else:
            if found:
                opt |= np.int64(1) << (q - 1)
            q += 1
    return level, excluded, conv, opt, True


@njit(cache=True, nogil=True, _nrt=False)
def _write_chain(e: np.int64, chain: np.ndarray, level: np.int64, ts: np.ndarray, rowid: np.ndarray,
                 out_ts: np.ndarray, out_row: np.ndarray) -> None:
    """Steps 1..level of entity e's chain into the step-major outputs (later steps are left as they are)."""
    for k in range(level):
        pos = chain[k]
        if pos >= 0:
            out_ts[k, e] = ts[pos]
            out_row[k, e] = rowid[pos]
        else:
            out_ts[k, e] = -INF
            out_row[k, e] = -1


@njit(cache=True, nogil=True, _nrt=False)
def _entity_end(ent: np.ndarray, lo: np.int64, N: np.int64) -> np.int64:
    hi = lo + 1
    while hi < N and ent[hi] == ent[lo]:
        hi += 1
    return hi


@njit(cache=True, nogil=True, _nrt=False)
def run_general(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, rowid: np.ndarray,
                n: np.int64, W: np.int64, params: np.ndarray, optmask: np.int64, sflag: np.int64, exr: np.ndarray,
                only: np.ndarray, out_level: np.ndarray, out_excl: np.ndarray, out_conv: np.ndarray,
                out_opt: np.ndarray, out_ts: np.ndarray, out_row: np.ndarray, ws: tuple, best: np.ndarray,
                chain: np.ndarray, nx: np.ndarray, start: np.int64) -> np.int64:
    """Ordered or strict funnels with any option (exact state search), from row ``start`` on.

    ``params``: within per step (microseconds, -1 none); ``exr``: from_step and to_step rows, one column
    per exclusion; with a non-empty ``only``, just the entities ``e`` with ``only[e] != 0``. The caller
    gives the workspace (:func:`run_general_all` does): ``ws`` from :func:`~.kernel_dp.new_workspace`,
    ``best`` (n+1, n+1), ``chain`` (n), ``nx`` (exclusions, longest entity). Returns -1 when done, or
    the row of the entity whose partial chains outgrew ``ws`` (grow it and call again from there).
    """
    N = ts.shape[0]
    lo = start
    while lo < N:
        hi = _entity_end(ent, lo, N)
        e = ent[lo]
        if only.shape[0] == 0 or only[e] != 0:
            level, excluded, conv, opt, ok = _general_entity(lo, hi, ts, mask, xmask, n, W, params, optmask, sflag,
                                                             exr, best, chain, ws, nx)
            if not ok:
                return lo
            out_level[e] = level
            out_excl[e] = excluded
            out_conv[e] = conv
            out_opt[e] = opt
            _write_chain(e, chain, level, ts, rowid, out_ts, out_row)
        lo = hi
    return np.int64(-1)


def run_general_all(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, rowid: np.ndarray,
                    n: int, W: int, params: np.ndarray, optmask: int, sflag: int, exr: np.ndarray, only: np.ndarray,
                    out_level: np.ndarray, out_excl: np.ndarray, out_conv: np.ndarray, out_opt: np.ndarray,
                    out_ts: np.ndarray, out_row: np.ndarray) -> None:
    """:func:`run_general` with its workspace: sized from the data, grown when an entity needs more."""
    E = exr.shape[1]
    if len(ts):
        cut = np.flatnonzero(ent[1:] != ent[:-1]) + 1
        bounds = np.concatenate([[0], cut, [len(ts)]])
        longest = int(np.diff(bounds).max())
        instant = np.flatnonzero((ent[1:] != ent[:-1]) | (ts[1:] != ts[:-1])) + 1
        maxg = int(np.diff(np.concatenate([[0], instant, [len(ts)]])).max())
    else:
        longest = maxg = 1
    cap = 16
    ws = new_workspace(cap, n, E, maxg)
    best = np.zeros((n + 1, n + 1), np.int64)
    chain = np.empty(n, np.int64)
    nx = np.empty((max(E, 1), longest if E else 1), np.int64)
    start = 0
    while start >= 0:
        start = int(run_general(ent, ts, mask, xmask, rowid, np.int64(n), np.int64(W), params, np.int64(optmask),
                                np.int64(sflag), exr, only, out_level, out_excl, out_conv, out_opt, out_ts, out_row,
                                ws, best, chain, nx, np.int64(start)))
        if start >= 0:  # more partial chains than the workspace holds: grow it, go on from that entity
            cap *= 4
            ws = new_workspace(cap, n, E, maxg)


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
        _write_chain(e, chain, level, ts, rowid, out_ts, out_row)
        lo = hi
    return latest
