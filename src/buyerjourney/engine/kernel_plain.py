"""The linear path for plain ordered funnels (no ``within``, optional step or exclusion).

Every step-1 instant starts a greedy chain (each next step filled by the earliest event that can).
Greedy chains from later starts are never ahead of earlier ones, so the chains waiting for step k
are a contiguous block of starts: ``f[k]`` counts the starts that reached step k (``f[0]``: all
starts), and an event of step k moves the whole block ``[f[k], f[k-1])`` forward at once. A start
reaches level k validly when its block reaches k within its window; the first such start is the
chosen chain's (earliest step 1, then earliest steps: exactly the greedy chain). Repeat conversions:
the first valid completion is the earliest-ending complete chain; counting it and dropping every
start up to that instant, then going on, gives the most chains one after another.

Several events at one instant fill consecutive steps in any order; when one of them matches several
steps, which fills which is a matching, and such an entity goes to the exact search instead. One event
alone matching several steps (a funnel repeating an event) moves each block once, steps descending.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from buyerjourney.engine.kernel_dp import INF

_DEBRUIJN = (0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8, 31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6,
             11, 5, 10, 9)
LEVEL, BEST, CONV, RESET_T, REACH = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def ctz(m: np.int64) -> np.int64:
    """Index of the lowest set bit of a non-zero 32-bit mask."""
    return np.int64(_DEBRUIJN[(((m & -m) * np.int64(0x077CB531)) >> 27) & 31])


@njit(cache=True, nogil=True, _nrt=False)
def _step(k: np.int64, t: np.int64, W: np.int64, n: np.int64, st_s: np.ndarray, f: np.ndarray,
          sv: np.ndarray) -> None:
    """Step k reached at t by the block waiting for it (the state in ``sv``: level, best, conv, reset time,
    furthest step any start reached)."""
    b = f[k - 1]
    if b > f[k] and k > sv[REACH]:
        sv[REACH] = k
    if (k > sv[LEVEL] or k == n) and b > f[k] and st_s[b - 1] >= t - W:
        if k > sv[LEVEL]:
            sv[BEST] = _first_inside(st_s, f[k], b - 1, t - W)
            sv[LEVEL] = k
        if k == n:
            sv[CONV] += 1
            for x in range(1, n + 1):
                f[x] = f[0]
            sv[RESET_T] = t
            sv[REACH] = 0
            return
    f[k] = b


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _first_inside(st_s: np.ndarray, lo_i: np.int64, hi_i: np.int64, since: np.int64) -> np.int64:
    """First start in [lo_i, hi_i] at or after ``since`` (starts are sorted; hi_i qualifies)."""
    while lo_i < hi_i:
        mid = (lo_i + hi_i) >> 1
        if st_s[mid] >= since:
            hi_i = mid
        else:
            lo_i = mid + 1
    return lo_i


@njit(cache=True, nogil=True, _nrt=False)
def _instant(i: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64, W: np.int64,
             st_s: np.ndarray, st_pos: np.ndarray, f: np.ndarray, sv: np.ndarray) -> np.int64:
    """Several events at one instant (from i): returns the instant's end, or -1 if one matches several steps."""
    t = ts[i]
    j = i
    G = np.int64(0)
    first1 = np.int64(-1)
    while j < hi and ts[j] == t:
        mq = np.int64(mask[j])
        if (mq & (mq - 1)) != 0:
            return np.int64(-1)
        G |= mq
        if first1 < 0 and (mq & 1) != 0:
            first1 = j
        j += 1
    if first1 >= 0:
        if sv[RESET_T] == t:
            G &= ~np.int64(1)  # no chain starts at the instant a conversion ended
        else:
            st_s[f[0]] = t
            st_pos[f[0]] = first1
            f[0] += 1
    while G != 0:  # ascending: a chain may go on within the instant with the other events
        k = ctz(G) + 1
        G &= G - 1
        _step(k, t, W, n, st_s, f, sv)
    return j


@njit(cache=True, nogil=True, _nrt=False)
def run_plain(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, rowid: np.ndarray, n: np.int64, W: np.int64,
              out_level: np.ndarray, out_conv: np.ndarray, out_ts: np.ndarray, out_row: np.ndarray,
              fallback: np.ndarray, st_s: np.ndarray, st_pos: np.ndarray, f: np.ndarray, chain: np.ndarray,
              stack: np.ndarray, sv: np.ndarray) -> None:
    """Plain ordered funnels, linear in events. Sets ``fallback[ent] = 1`` for the entities that need the
    exact search (an instant with several events, one of them matching several steps).

    Scratch from the caller (compiled without reference counting): ``st_s``, ``st_pos`` (rows + 1),
    ``f`` (n + 1), ``chain`` and ``stack`` (n), ``sv`` (5).
    """
    N = ts.shape[0]
    lo = np.int64(0)
    while lo < N:
        e = ent[lo]
        hi = lo + 1
        while hi < N and ent[hi] == e:
            hi += 1
        for k in range(n + 1):
            f[k] = 0
        level = np.int64(0)
        best = np.int64(-1)
        conv = np.int64(0)
        reset_t = -INF
        reach = np.int64(0)  # the furthest step any start reached: blocks after the next one are empty
        handled = True
        i = lo
        while i < hi:
            m = np.int64(mask[i])
            t = ts[i]
            if i + 1 < hi and ts[i + 1] == t:
                sv[LEVEL], sv[BEST], sv[CONV], sv[RESET_T], sv[REACH] = level, best, conv, reset_t, reach
                i = _instant(i, hi, ts, mask, n, W, st_s, st_pos, f, sv)
                level, best, conv, reset_t, reach = sv[LEVEL], sv[BEST], sv[CONV], sv[RESET_T], sv[REACH]
                if i < 0:
                    handled = False
                    break
                continue
            i += 1
            if m == 0:
                continue
            if (m & (m - 1)) != 0:  # one event, several steps: each chain uses it once, steps descending
                m &= (np.int64(2) << reach) - 1  # steps 1 .. reach + 1: nobody waits further on
                nb = 0
                while m != 0:
                    stack[nb] = ctz(m) + 1
                    nb += 1
                    m &= m - 1
                while nb > 0:
                    nb -= 1
                    k = stack[nb]
                    if k == 1:
                        if t == reset_t:
                            continue
                        st_s[f[0]] = t
                        st_pos[f[0]] = i - 1
                        f[0] += 1
                    b = f[k - 1]
                    if b > f[k] and k > reach:
                        reach = k
                    if (k > level or k == n) and b > f[k] and st_s[b - 1] >= t - W:
                        if k > level:
                            best = _first_inside(st_s, f[k], b - 1, t - W)
                            level = k
                        if k == n:
                            conv += 1
                            for x in range(1, n + 1):
                                f[x] = f[0]
                            reset_t = t
                            reach = 0
                            continue
                    f[k] = b
                continue
            k = ctz(m) + 1
            if k == 1:
                if t == reset_t:
                    continue
                st_s[f[0]] = t
                st_pos[f[0]] = i - 1
                f[0] += 1
            elif k > reach + 1:
                continue  # nobody waits for this step
            b = f[k - 1]
            if b > f[k] and k > reach:
                reach = k
            if (k > level or k == n) and b > f[k] and st_s[b - 1] >= t - W:
                if k > level:
                    best = _first_inside(st_s, f[k], b - 1, t - W)
                    level = k
                if k == n:
                    conv += 1
                    for x in range(1, n + 1):
                        f[x] = f[0]
                    reset_t = t
                    reach = 0
                    continue
            f[k] = b
        if not handled:
            fallback[e] = 1
            lo = hi
            continue
        # the chosen chain: the greedy chain of the first start that reached the level validly
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
        out_level[e] = level
        out_conv[e] = conv
        for k in range(level):  # step-major outputs; steps after the level are left untouched
            pos = chain[k]
            out_ts[k, e] = ts[pos]
            out_row[k, e] = rowid[pos]
        lo = hi


def run_plain_all(ent: np.ndarray, ts: np.ndarray, mask: np.ndarray, rowid: np.ndarray, n: int, W: int,
                  out_level: np.ndarray, out_conv: np.ndarray, out_ts: np.ndarray, out_row: np.ndarray,
                  fallback: np.ndarray) -> None:
    """:func:`run_plain` with its scratch arrays."""
    rows = len(ts) + 1
    run_plain(ent, ts, mask, rowid, np.int64(n), np.int64(W), out_level, out_conv, out_ts, out_row, fallback,
              np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty(n + 1, np.int64), np.empty(n, np.int64),
              np.empty(max(n, 32), np.int64), np.empty(5, np.int64))
