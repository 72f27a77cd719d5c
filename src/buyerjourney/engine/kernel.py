"""The scan kernel: per-entity funnel results from time-sorted arrays (DESIGN section 3).

Input, one row per event, rows grouped by entity and sorted by time inside each entity:

- ``ent``: int32 dense entity index (rows of one entity are contiguous; the index addresses the outputs),
- ``ts``: int64 time (microseconds), ``mask``: uint32 bit k-1 set when the event matches step k,
- ``xmask``: uint32 bit e set when the event matches exclusion e, ``rowid``: int64 id of the event row.

Output, per entity index: level, excluded flag, conversions, optional steps on a best chain (bitmask),
and the chosen chain's step times and row ids (``-1`` where a step is not filled).

Plain ordered funnels (no ``within``, optional step or exclusion) take a linear path: every step-1
event starts a greedy chain, and since greedy chains from later starts are never ahead of earlier
ones, the chains waiting at each step form contiguous blocks of starts that advance together.
Everything else goes through the exact state search of :mod:`.kernel_dp`; unordered funnels through
:mod:`.kernel_unordered`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from buyerjourney.engine.kernel_dp import EXCL, INF, LEX, RESET, chain_search, next_excluded
from buyerjourney.engine.kernel_dp import STRICT as STRICT_FLAG
from buyerjourney.engine.kernel_unordered import unordered_entity

_DEBRUIJN = np.array([0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8, 31, 27, 13, 23, 21, 19, 16, 7, 26,
                      12, 18, 6, 11, 5, 10, 9], dtype=np.int64)


@njit(cache=True, nogil=True)
def _ctz(m: np.int64) -> np.int64:
    """Index of the lowest set bit of a non-zero 32-bit mask."""
    return _DEBRUIJN[(((m & -m) * np.int64(0x077CB531)) >> 27) & 31]


@njit(cache=True, nogil=True)
def _plain_entity(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64, W: np.int64,
                  st_s: np.ndarray, st_pos: np.ndarray, f: np.ndarray, chain: np.ndarray
                  ) -> tuple[bool, np.int64, np.int64]:
    """(handled, level, conversions) of a plain ordered funnel; ``chain[:level]`` gets positions.

    ``f[k]`` = number of starts whose greedy chain has reached step k (starts ``[f[k], f[k-1])`` wait
    for step k). Returns handled=False when an instant holds several events and one of them matches
    several steps: which event fills which step is then a matching, left to the exact search.
    """
    nst = np.int64(0)
    for k in range(n + 1):
        f[k] = 0
    level = np.int64(0)
    best = np.int64(-1)
    conv = np.int64(0)
    reset_t = -INF
    i = lo
    while i < hi:
        T = ts[i]
        j = i + 1
        while j < hi and ts[j] == T:
            j += 1
        if j - i == 1:
            m = np.int64(mask[i])
            if m == 0:
                i = j
                continue
            start_here = (m & 1) != 0
            rest = m >> 1
            if rest != 0:
                if (rest & (rest - 1)) == 0:
                    order_bits = rest
                    k = _ctz(rest) + 2
                    level, best, conv, nst, reset_t = _advance(k, T, W, n, st_s, f, level, best, conv, nst, reset_t)
                else:
                    order_bits = rest
                    k = n
                    while k >= 2:
                        if (order_bits >> (k - 2)) & 1:
                            level, best, conv, nst, reset_t = _advance(k, T, W, n, st_s, f, level, best, conv,
                                                                        nst, reset_t)
                        k -= 1
            if start_here and T != reset_t:
                level, best, conv, nst, reset_t = _start(i, T, n, st_s, st_pos, f, level, best, conv, nst, reset_t)
        else:
            G = np.int64(0)
            first1 = np.int64(-1)
            for q in range(i, j):
                mq = np.int64(mask[q])
                if (mq & (mq - 1)) != 0:
                    return False, np.int64(0), np.int64(0)
                G |= mq
                if first1 < 0 and (mq & 1) != 0:
                    first1 = q
            if first1 >= 0 and T != reset_t:
                level, best, conv, nst, reset_t = _start(first1, T, n, st_s, st_pos, f, level, best, conv, nst,
                                                         reset_t)
            rest = G >> 1
            while rest != 0:
                k = _ctz(rest) + 2
                rest &= rest - 1
                level, best, conv, nst, reset_t = _advance(k, T, W, n, st_s, f, level, best, conv, nst, reset_t)
        i = j
    for k in range(n):
        chain[k] = -1
    if level > 0:
        chain[0] = st_pos[best]
        for k in range(2, level + 1):
            prev = chain[k - 2]
            q = prev
            while q > lo and ts[q - 1] == ts[prev]:
                q -= 1
            while q < hi:
                if (np.int64(mask[q]) >> (k - 1)) & 1:
                    used = False
                    for x in range(k - 1):
                        if chain[x] == q:
                            used = True
                    if not used:
                        break
                q += 1
            chain[k - 1] = q
    return True, level, conv


@njit(cache=True, nogil=True)
def _start(pos: np.int64, T: np.int64, n: np.int64, st_s: np.ndarray, st_pos: np.ndarray, f: np.ndarray,
           level: np.int64, best: np.int64, conv: np.int64, nst: np.int64, reset_t: np.int64
           ) -> tuple[np.int64, np.int64, np.int64, np.int64, np.int64]:
    st_s[nst] = T
    st_pos[nst] = pos
    nst += 1
    f[1] = nst
    if level < 1:
        level = np.int64(1)
        best = nst - 1
    if n == 1:
        conv += 1
        reset_t = T
    return level, best, conv, nst, reset_t


@njit(cache=True, nogil=True)
def _advance(k: np.int64, T: np.int64, W: np.int64, n: np.int64, st_s: np.ndarray, f: np.ndarray,
             level: np.int64, best: np.int64, conv: np.int64, nst: np.int64, reset_t: np.int64
             ) -> tuple[np.int64, np.int64, np.int64, np.int64, np.int64]:
    """The block of starts waiting for step k reaches it at time T."""
    a = f[k]
    b = f[k - 1]
    if b <= a:
        return level, best, conv, nst, reset_t
    if st_s[b - 1] >= T - W:  # the block's latest start is inside its window
        if k > level:
            lo_i = a
            hi_i = b - 1
            while lo_i < hi_i:  # first start of the block inside its window
                mid = (lo_i + hi_i) >> 1
                if st_s[mid] >= T - W:
                    hi_i = mid
                else:
                    lo_i = mid + 1
            level = k
            best = lo_i
        if k == n:
            conv += 1
            for x in range(1, n + 1):
                f[x] = nst
            reset_t = T
            return level, best, conv, nst, reset_t
    f[k] = b
    return level, best, conv, nst, reset_t


@njit(cache=True, nogil=True)
def _general_entity(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, n: np.int64,
                    W: np.int64, within: np.ndarray, optmask: np.int64, sflag: np.int64, E: np.int64,
                    ex_from: np.ndarray, ex_to: np.ndarray, bw: np.ndarray, bh: np.ndarray, chain: np.ndarray
                    ) -> tuple[np.int64, bool, np.int64, np.int64]:
    """(level, excluded, conversions, optional-steps-on-a-best-chain mask); ``chain`` gets positions.

    ``sflag`` is STRICT or 0. Passes: the level (without exclusions); whether a valid chain reaches it;
    the chosen chain; conversions; for each optional step, whether a best chain goes through it.
    """
    full = (np.int64(1) << n) - 1
    req = full & ~optmask
    eflag = EXCL * (E > 0)
    if E > 0:
        nx = next_excluded(lo, hi, ts, xmask, E)
    else:
        nx = np.empty((1, 1), np.int64)
    for k in range(n + 1):
        bh[k] = 0
    excluded = False
    none = np.int64(-1)
    if E == 0:
        level, _, _ = chain_search(lo, hi, ts, mask, n, W, within, req, sflag | LEX, E, ex_from, ex_to, nx, none,
                                   bw, bh)
        for k in range(n):
            chain[k] = bw[level, k] if level > 0 else none
    else:
        level, _, _ = chain_search(lo, hi, ts, mask, n, W, within, req, sflag, E, ex_from, ex_to, nx, none, bw, bh)
        applies = False
        for e in range(E):
            if ex_from[e] <= level:
                applies = True
        if level > 0 and applies:
            _, found, _ = chain_search(lo, hi, ts, mask, n, W, within, req, sflag | eflag, E, ex_from, ex_to, nx,
                                       level, bw, bh)
            excluded = not found
        for k in range(n):
            chain[k] = none
        if level > 0:
            chain_search(lo, hi, ts, mask, n, W, within, req, sflag | LEX | (eflag * (not excluded)), E, ex_from,
                         ex_to, nx, level, bw, bh)
            for k in range(n):
                chain[k] = bw[0, k]
    conv = np.int64(0)
    opt = np.int64(0)
    if level > 0 and not excluded:
        if level == n:
            _, _, conv = chain_search(lo, hi, ts, mask, n, W, within, req, sflag | eflag | RESET, E, ex_from,
                                      ex_to, nx, none, bw, bh)
        for q in range(2, level + 1):
            bit = np.int64(1) << (q - 1)
            if (optmask & bit) == 0:
                continue
            if q == level:
                opt |= bit
                continue
            _, found, _ = chain_search(lo, hi, ts, mask, n, W, within, req | bit, sflag | eflag, E, ex_from, ex_to,
                                       nx, level, bw, bh)
            if found:
                opt |= bit
    return level, excluded, conv, opt


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
def run_plain(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, rowid: np.ndarray, n: np.int64, W: np.int64,
              out_level: np.ndarray, out_conv: np.ndarray, out_ts: np.ndarray, out_row: np.ndarray,
              fallback: np.ndarray) -> np.int64:
    """Plain ordered funnels, linear in events. Sets ``fallback[ent] = 1`` for the entities that need the
    exact search (an instant with several events, one of them matching several steps). Returns max ts."""
    N = ts.shape[0]
    st_s = np.empty(max(N, 1), np.int64)
    st_pos = np.empty(max(N, 1), np.int64)
    f = np.empty(n + 1, np.int64)
    chain = np.empty(n, np.int64)
    latest = -INF
    lo = np.int64(0)
    while lo < N:
        hi = _entity_end(ent, lo, N)
        e = ent[lo]
        if ts[hi - 1] > latest:
            latest = ts[hi - 1]
        handled, level, conv = _plain_entity(lo, hi, ts, mask, n, W, st_s, st_pos, f, chain)
        if handled:
            out_level[e] = level
            out_conv[e] = conv
            _write_chain(e, chain, n, ts, rowid, out_ts, out_row)
        else:
            fallback[e] = 1
        lo = hi
    return latest


@njit(cache=True, nogil=True)
def run_general(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, xmask: np.ndarray, rowid: np.ndarray,
                n: np.int64, W: np.int64, within: np.ndarray, optmask: np.int64, sflag: np.int64,
                ex_from: np.ndarray, ex_to: np.ndarray, only: np.ndarray, out_level: np.ndarray,
                out_excl: np.ndarray, out_conv: np.ndarray, out_opt: np.ndarray, out_ts: np.ndarray,
                out_row: np.ndarray) -> np.int64:
    """Ordered or strict funnels with any option (exact state search). With a non-empty ``only``,
    just the entities ``e`` with ``only[e] != 0``. Returns max ts."""
    N = ts.shape[0]
    E = ex_from.shape[0]
    chain = np.empty(n, np.int64)
    bw = np.empty((n + 1, n), np.int64)
    bh = np.zeros(n + 1, np.int64)
    latest = -INF
    lo = np.int64(0)
    while lo < N:
        hi = _entity_end(ent, lo, N)
        e = ent[lo]
        if ts[hi - 1] > latest:
            latest = ts[hi - 1]
        if only.shape[0] == 0 or only[e] != 0:
            level, excluded, conv, opt = _general_entity(lo, hi, ts, mask, xmask, n, W, within, optmask, sflag, E,
                                                         ex_from, ex_to, bw, bh, chain)
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
