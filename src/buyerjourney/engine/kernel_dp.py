"""The exact chain search for ordered and strict funnels with every option (DESIGN section 3).

One entity's events, time-sorted, are walked instant by instant (an instant = the events at one time).
Partial chains are summarised as states ``(step, start, last, deadlines)`` and only the Pareto-best
states survive (a later start, a later last step and later exclusion deadlines are never worse), so
``within`` bounds, where the greedy choice is wrong, are still searched exactly. Within an instant the
events may fill consecutive steps in any order; which steps they can fill is a bipartite matching.

Deadlines: for an exclusion (i, j) a chain that filled step i at ``t_i`` is invalid if an excluded
event lies strictly between ``t_i`` and ``t_j`` (or ``t_1 + window`` if it never reaches j): the
state keeps ``D = first excluded time strictly after t_i`` and step j may only be filled at ``T <= D``.

Speed: compiled without numba's reference counting (``_nrt=False``; it would count every array passed
around, costing more than the search itself), the hot helpers inlined, nothing sliced, and the arrays
allocated by the caller. Layout: a state is one row of
``pool`` / ``cand``: ``[step, start, last, D_0 .. D_{E-1}, w_0 .. w_{n-1}]`` where ``w`` are the
positions of the events filling each step (-1: not filled), kept when the lexicographic order matters.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import njit


def _drop_stale_compiled_code() -> None:
    """Numba's on-disk cache only notices changes to a function's own file, but the kernels inline each
    other across the ``kernel*.py`` files: when any of them changed, drop the cached kernels of all."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha1(b"".join(p.read_bytes() for p in sorted(here.glob("kernel*.py")))).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / "kernels.sha1"
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return
        for stale in cache.glob("kernel*.nb[ic]"):
            stale.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only installation: numba keeps its cache elsewhere
        return


_drop_stale_compiled_code()

INF = np.int64(1) << np.int64(62)
STRICT, EXCL, LEX, RESET, NEEDS_P = 1, 2, 4, 8, 16
# rows of the scratch array
ASSIGN, OWNER, PREV, QUEUE, SEEN, BLOCKED, TMP = 0, 1, 2, 3, 4, 5, 6
# slots of the small ``misc`` array: the instant's steps (OR), events matching a step, any event matching
# several steps, first event matching a step; results: max level, found, completed; then gpos[n]
G_OR, G_NZ, G_MULTI, G_FIRST, R_LEVEL, R_FOUND, R_DONE, GPOS = 0, 1, 2, 3, 4, 5, 6, 7


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def lowest_step(bits: np.int64) -> np.int64:
    """1-based index of the lowest set bit."""
    k = np.int64(1)
    while (bits & 1) == 0:
        bits >>= 1
        k += 1
    return k


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def key_cmp(a: np.ndarray, ia: np.int64, oa: np.int64, b: np.ndarray, ib: np.int64, ob: np.int64,
            ts: np.ndarray, n: np.int64) -> np.int64:
    """Compare the chains in rows ``a[ia]`` and ``b[ib]`` (positions from columns ``oa`` and ``ob``):
    times first, then positions."""
    for k in range(n):
        pa = a[ia, oa + k]
        pb = b[ib, ob + k]
        ta = ts[pa] if pa >= 0 else INF
        tb = ts[pb] if pb >= 0 else INF
        if ta != tb:
            return np.int64(-1) if ta < tb else np.int64(1)
    for k in range(n):
        pa = a[ia, oa + k]
        pb = b[ib, ob + k]
        pa = pa if pa >= 0 else INF
        pb = pb if pb >= 0 else INF
        if pa != pb:
            return np.int64(-1) if pa < pb else np.int64(1)
    return np.int64(0)


@njit(cache=True, nogil=True, _nrt=False)
def match_group(steps: np.int64, mask: np.ndarray, i: np.int64, j: np.int64, scratch: np.ndarray,
                arow: np.int64) -> bool:
    """Can the steps in ``steps`` be filled by distinct events of positions [i, j) (not blocked)?
    Fills ``scratch[arow, step-1]`` with the event positions.

    Kuhn's algorithm, a breadth-first augmenting path per step (steps ascending, events in order).
    """
    g = j - i
    for q in range(g):
        scratch[OWNER, q] = -1
    bits = steps
    while bits != 0:
        root = lowest_step(bits)
        bits &= bits - 1
        for q in range(g):
            scratch[SEEN, q] = 0
        head = 0
        tail = 0
        scratch[QUEUE, tail] = root
        tail += 1
        found = -1
        while head < tail and found < 0:
            u = scratch[QUEUE, head]
            head += 1
            bit = np.int64(1) << (u - 1)
            for q in range(g):
                if scratch[SEEN, q] == 0 and scratch[BLOCKED, q] == 0 and (np.int64(mask[i + q]) & bit) != 0:
                    scratch[SEEN, q] = 1
                    scratch[PREV, q] = u
                    if scratch[OWNER, q] < 0:
                        found = q
                        break
                    scratch[QUEUE, tail] = scratch[OWNER, q]
                    tail += 1
        if found < 0:
            return False
        q = found
        while True:  # augment: walk back from the free event to the root step
            u = scratch[PREV, q]
            old = scratch[arow, u - 1]
            scratch[OWNER, q] = u
            scratch[arow, u - 1] = i + q
            if u == root:
                break
            q = old - i
    return True


@njit(cache=True, nogil=True, _nrt=False)
def _fits(steps: np.int64, mask: np.ndarray, i: np.int64, j: np.int64, scratch: np.ndarray, n: np.int64,
          arow: np.int64) -> bool:
    for kk in range(n):
        scratch[arow, kk] = -1
    return match_group(steps, mask, i, j, scratch, arow)


@njit(cache=True, nogil=True, _nrt=False)
def _lex_assign(steps: np.int64, mask: np.ndarray, i: np.int64, j: np.int64, scratch: np.ndarray,
                n: np.int64) -> None:
    """The assignment of a fitting set of steps with the smallest positions, step by step in order."""
    bits = steps
    while bits != 0:
        st = lowest_step(bits)
        bits &= bits - 1
        for q in range(i, j):
            if scratch[BLOCKED, q - i] == 0 and (np.int64(mask[q]) >> (st - 1)) & 1:
                scratch[BLOCKED, q - i] = 1
                if bits == 0 or _fits(bits, mask, i, j, scratch, n, TMP):
                    scratch[ASSIGN, st - 1] = q
                    break
                scratch[BLOCKED, q - i] = 0
    for q in range(j - i):
        scratch[BLOCKED, q] = 0


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def at_least_as_good(a: np.ndarray, ia: np.int64, b: np.ndarray, ib: np.int64, ts: np.ndarray, n: np.int64,
                     flags: np.int64, E: np.int64, exr: np.ndarray, target: np.int64) -> bool:
    """Is state ``a[ia]`` at least as good as ``b[ib]`` (same step) for every future, and no later in order?

    A later start leaves more window; a later last step more ``within`` room (and, strict, it is the
    only one alive); later exclusion deadlines more room. For an exclusion the target level leaves
    open, what matters is the deadline minus the start (no excluded event before the window's end).
    """
    if a[ia, 1] < b[ib, 1]:
        return False
    if (flags & NEEDS_P) != 0 and a[ia, 2] < b[ib, 2]:
        return False
    k = a[ia, 0]
    for e in range(E):
        if exr[0, e] <= k < exr[1, e]:
            if target >= 0 and exr[1, e] > target:
                if a[ia, 3 + e] - a[ia, 1] < b[ib, 3 + e] - b[ib, 1]:
                    return False
            elif a[ia, 3 + e] < b[ib, 3 + e]:
                return False
    return (flags & LEX) == 0 or key_cmp(a, ia, 3 + E, b, ib, 3 + E, ts, n) <= 0


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _scan_instant(i: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64,
                  misc: np.ndarray) -> np.int64:
    """The instant starting at ``i``: returns its end and fills the G_* slots (and GPOS when needed)."""
    t = ts[i]
    j = i
    G = np.int64(0)
    nz = np.int64(0)
    multi = np.int64(0)
    first_nz = np.int64(-1)
    while j < hi and ts[j] == t:
        mj = np.int64(mask[j])
        if mj != 0:
            G |= mj
            nz += 1
            if first_nz < 0:
                first_nz = j
            if (mj & (mj - 1)) != 0:
                multi = 1
        j += 1
    if nz > 1 and multi == 0:
        for k in range(n):
            misc[GPOS + k] = -1
        for r in range(i, j):
            mr = np.int64(mask[r])
            if mr != 0:
                kk = lowest_step(mr) - 1
                if misc[GPOS + kk] < 0:
                    misc[GPOS + kk] = r
    misc[G_OR] = G
    misc[G_NZ] = nz
    misc[G_MULTI] = multi
    misc[G_FIRST] = first_nz
    return j


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _within_ok(steps: np.int64, k: np.int64, T: np.int64, p: np.int64, params: np.ndarray) -> bool:
    """The first step filled at T (the others follow it at once) keeps its within bound to p."""
    if k == 0:
        return True
    f = lowest_step(steps)
    return params[f - 1] < 0 or T - p <= params[f - 1]


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _extend(entry: np.int64, i: np.int64, j: np.int64, lo: np.int64, prev_t: np.int64, ts: np.ndarray,
            mask: np.ndarray, n: np.int64, W: np.int64, params: np.ndarray, reqmask: np.int64, flags: np.int64,
            E: np.int64, exr: np.ndarray, nx: np.ndarray, target: np.int64, pool: np.ndarray, cand: np.ndarray,
            nc: np.int64, scratch: np.ndarray, misc: np.ndarray, best: np.ndarray) -> np.int64:
    """Chains grown from pool row ``entry`` (-1: a new chain) with the events of the instant [i, j).

    New states go to ``cand`` from row ``nc``; returns the new count.
    """
    T = ts[i]
    G = misc[G_OR]
    nz = misc[G_NZ]
    multi = misc[G_MULTI]
    if entry < 0:
        k = np.int64(0)
        s = T
        p = T
    else:
        k = pool[entry, 0]
        s = pool[entry, 1]
        p = pool[entry, 2]
        if T - s > W or ((flags & STRICT) != 0 and p != prev_t):
            return nc
    S = np.int64(0)  # required steps after k, before k2
    opt_here = np.int64(0)  # optional steps after k, before k2, that this instant could fill
    for k2 in range(k + 1, n + 1):
        bit = np.int64(1) << (k2 - 1)
        base = S | bit
        if (G & bit) != 0 and multi != 0 and not _fits(base, mask, i, j, scratch, n, ASSIGN):
            if (reqmask & bit) != 0:
                break  # the required steps do not fit: nothing further will
        elif (G & bit) != 0:
            if nz == 1 and (base & (base - 1)) != 0:
                break  # one event fills one step
            if (flags & EXCL) != 0 and k >= 1:
                bad = False
                for e in range(E):
                    if exr[0, e] <= k and k < exr[1, e] <= k2 and pool[entry, 3 + e] < T:
                        bad = True
                if bad:
                    break
            # fill the earliest optional steps that still leave a valid set: the lexicographically first
            # chain, and the only way through when the step after a skipped one has a tighter within
            F = np.int64(0)
            if nz > 1:
                rest = opt_here
                while rest != 0:
                    o = rest & -rest
                    rest &= rest - 1
                    trial = F | o | base
                    if _within_ok(trial, k, T, p, params) and (multi == 0 or _fits(trial, mask, i, j, scratch, n,
                                                                                    ASSIGN)):
                        F |= o
            steps = F | base
            if _within_ok(steps, k, T, p, params):
                if multi != 0 and (flags & LEX) != 0:
                    _lex_assign(steps, mask, i, j, scratch, n)  # which event fills which step
                nc = _new_state(entry, k, k2, s, T, i, lo, steps, n, W, flags, E, exr, nx, target, pool, cand, nc,
                                scratch, misc, ts, best)
        if (reqmask & bit) != 0:
            if (G & bit) == 0:
                break
            S |= bit
        elif (G & bit) != 0:
            opt_here |= bit
    return nc


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _new_state(entry: np.int64, k: np.int64, k2: np.int64, s: np.int64, T: np.int64, i: np.int64, lo: np.int64,
               steps: np.int64, n: np.int64, W: np.int64, flags: np.int64, E: np.int64, exr: np.ndarray,
               nx: np.ndarray, target: np.int64, pool: np.ndarray, cand: np.ndarray, nc: np.int64,
               scratch: np.ndarray, misc: np.ndarray, ts: np.ndarray, best: np.ndarray) -> np.int64:
    """Write the state (k2, s, T) at ``cand[nc]``, record what it proves; returns nc + 1 if it is kept.

    ``best`` rows: per level (or row 0 for a target) the lexicographically first chain, from column 1
    (column 0: 1 once set).
    """
    lex = (flags & LEX) != 0
    cand[nc, 0] = k2
    cand[nc, 1] = s
    cand[nc, 2] = T
    for e in range(E):
        if exr[0, e] <= k < exr[1, e] and exr[1, e] > k2:
            cand[nc, 3 + e] = pool[entry, 3 + e]
        elif k < exr[0, e] <= k2 < exr[1, e]:
            cand[nc, 3 + e] = nx[e, i - lo]
        else:
            cand[nc, 3 + e] = INF
    w0 = 3 + E
    if lex:
        for kk in range(n):
            cand[nc, w0 + kk] = pool[entry, w0 + kk] if entry >= 0 else np.int64(-1)
        nz = misc[G_NZ]
        multi = misc[G_MULTI]
        bits = steps
        while bits != 0:
            st = lowest_step(bits)
            bits &= bits - 1
            if nz == 1:
                cand[nc, w0 + st - 1] = misc[G_FIRST]
            elif multi != 0:
                cand[nc, w0 + st - 1] = scratch[ASSIGN, st - 1]
            else:
                cand[nc, w0 + st - 1] = misc[GPOS + st - 1]
    if k2 > misc[R_LEVEL]:
        misc[R_LEVEL] = k2
    keep = k2 < n and T - s < W
    row = np.int64(-1)
    if (flags & RESET) != 0:
        if k2 == n:
            misc[R_DONE] = 1
    elif target >= 0:
        if k2 == target:
            keep = False
            valid = True
            if (flags & EXCL) != 0:
                for e in range(E):
                    if exr[0, e] <= k2 < exr[1, e] and cand[nc, 3 + e] < s + W:
                        valid = False
            if valid:
                misc[R_FOUND] = 1
                if lex:
                    row = 0
    elif lex:
        row = k2
    if row >= 0 and (best[row, 0] == 0 or key_cmp(cand, nc, w0, best, row, 1, ts, n) < 0):
        for kk in range(n):
            best[row, 1 + kk] = cand[nc, w0 + kk]
        best[row, 0] = 1
    return nc + 1 if keep else nc


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def _merge(m: np.int64, nc: np.int64, T: np.int64, W: np.int64, ts: np.ndarray, n: np.int64, flags: np.int64,
           E: np.int64, exr: np.ndarray, target: np.int64, pool: np.ndarray, cand: np.ndarray) -> np.int64:
    """Drop pool states that cannot grow after instant T, add the candidates no state beats (dropping the
    states they beat). The pool must have room for ``m + nc`` states. Returns the new pool size."""
    width = pool.shape[1]
    w = np.int64(0)
    for y in range(m):
        if T - pool[y, 1] >= W or ((flags & STRICT) != 0 and pool[y, 2] < T):
            continue
        if w != y:
            for x in range(width):
                pool[w, x] = pool[y, x]
        w += 1
    m = w
    for c in range(nc):
        k = cand[c, 0]
        beaten = False
        for y in range(m):
            if pool[y, 0] == k and at_least_as_good(pool, y, cand, c, ts, n, flags, E, exr, target):
                beaten = True
                break
        if beaten:
            continue
        w = np.int64(0)
        for y in range(m):
            if pool[y, 0] == k and at_least_as_good(cand, c, pool, y, ts, n, flags, E, exr, target):
                continue
            if w != y:
                for x in range(width):
                    pool[w, x] = pool[y, x]
            w += 1
        m = w
        for x in range(width):
            pool[m, x] = cand[c, x]
        m += 1
    return m


def new_workspace(cap: int, n: int, E: int, maxg: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays the search reuses from entity to entity (allocated here, in Python: the compiled search runs
    without numba's reference counting): (pool of ``cap`` states, ``cap * n`` candidates, matching
    scratch for instants of up to ``maxg`` events, misc slots)."""
    width = 3 + E + n
    return (np.empty((cap, width), np.int64), np.empty((cap * n, width), np.int64),
            np.zeros((7, maxg + n + 1), np.int64), np.zeros(GPOS + n, np.int64))


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def chain_search(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64, W: np.int64,
                 params: np.ndarray, reqmask: np.int64, flags: np.int64, exr: np.ndarray, nx: np.ndarray,
                 target: np.int64, best: np.ndarray, ws: tuple) -> tuple[np.int64, bool, np.int64, bool]:
    """One pass over the entity's events [lo, hi).
    Returns (max level, found a valid chain at target, conversions, fitted in the workspace).

    ``params``: ``within`` per step (microseconds, -1 = none); ``exr``: rows from_step, to_step per
    exclusion; ``reqmask``: bit k-1 for each step that may not be skipped; ``flags``: STRICT, EXCL
    (apply exclusions), LEX, RESET (one compiled function whatever the mode).

    - ``target < 0``: find the maximum level; with LEX, ``best[k]`` gets the lexicographically
      first chain reaching each level k.
    - ``target >= 0``: only chains ending at step ``target`` matter; ``found`` says a valid one exists
      (the window-end rule for exclusions applies); with LEX, ``best[0]`` gets the first one.
    - RESET: count conversions: on the first instant where a valid chain completes, count it and
      start over after that instant.
    When the states outgrow the workspace ``ws`` (:func:`new_workspace`) the last value is False.
    """
    pool, cand, scratch, misc = ws
    E = exr.shape[1]
    for k in range(n):
        if params[k] >= 0:
            flags |= NEEDS_P
    if (flags & STRICT) != 0:
        flags |= NEEDS_P
    cap = pool.shape[0]
    ccap = cand.shape[0]
    misc[R_LEVEL] = 0
    misc[R_FOUND] = 0
    m = np.int64(0)
    conv = np.int64(0)
    prev_t = -INF
    i = lo
    while i < hi:
        T = ts[i]
        j = _scan_instant(i, hi, ts, mask, n, misc)
        nc = np.int64(0)
        misc[R_DONE] = 0
        if misc[G_OR] != 0:
            if (m + 1) * n > ccap or j - i + n + 1 > scratch.shape[1]:
                return misc[R_LEVEL], misc[R_FOUND] != 0, conv, False
            for entry in range(-1, m):
                if entry < 0 and (misc[G_OR] & 1) == 0:
                    continue
                nc = _extend(entry, i, j, lo, prev_t, ts, mask, n, W, params, reqmask, flags, E, exr, nx, target,
                             pool, cand, nc, scratch, misc, best)
        if misc[R_DONE] != 0:
            conv += 1
            m = 0
            nc = 0
        if m + nc > cap:
            return misc[R_LEVEL], misc[R_FOUND] != 0, conv, False
        if m + nc > 0:
            m = _merge(m, nc, T, W, ts, n, flags, E, exr, target, pool, cand)
        if (flags & (RESET | LEX)) == 0 and (
                (target < 0 and misc[R_LEVEL] == n) or (target >= 0 and misc[R_FOUND] != 0)):
            break
        prev_t = T
        i = j
    return misc[R_LEVEL], misc[R_FOUND] != 0, conv, True


@njit(cache=True, nogil=True, _nrt=False)
def next_excluded(lo: np.int64, hi: np.int64, ts: np.ndarray, xmask: np.ndarray, E: np.int64, nx: np.ndarray) -> None:
    """``nx[e, q - lo]`` = the first time of an event of exclusion e strictly after ``ts[q]`` (INF if none)."""
    for e in range(E):
        nxt = INF
        q = hi - 1
        while q >= lo:
            r = q
            while r > lo and ts[r - 1] == ts[q]:
                r -= 1
            # instant [r, q]: its own events are not strictly after its time
            for x in range(r, q + 1):
                nx[e, x - lo] = nxt
            for x in range(r, q + 1):
                if (np.int64(xmask[x]) >> e) & 1:
                    nxt = ts[x]
            q = r - 1
