"""The exact chain search for ordered and strict funnels with every option (DESIGN section 3).

One entity's events, time-sorted, are walked group by group (a group = the events at one instant).
Partial chains are summarised as states ``(step, start, last, deadlines)`` and only the Pareto-best
states survive (a later start, a later last step and later exclusion deadlines are never worse), so
``within`` bounds, where the greedy choice is wrong, are still searched exactly. Inside a group the
events may fill consecutive steps in any order; which steps they can fill is a bipartite matching.

Deadlines: for an exclusion (i, j) a chain that filled step i at ``t_i`` is invalid if an excluded
event lies strictly between ``t_i`` and ``t_j`` (or ``t_1 + window`` if it never reaches j): the
state keeps ``D = first excluded time strictly after t_i`` and step j may only be filled at ``T <= D``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.int64(1) << np.int64(62)
STRICT, EXCL, LEX, RESET, NEEDS_P = 1, 2, 4, 8, 16


@njit(cache=True, nogil=True)
def lowest_step(bits: np.int64) -> np.int64:
    """1-based index of the lowest set bit."""
    k = np.int64(1)
    while (bits & 1) == 0:
        bits >>= 1
        k += 1
    return k


@njit(cache=True, nogil=True)
def key_cmp(a: np.ndarray, b: np.ndarray, ts: np.ndarray, n: np.int64) -> np.int64:
    """Compare two chains (positions per step, -1 = not filled): times first, then positions."""
    for k in range(n):
        ta = ts[a[k]] if a[k] >= 0 else INF
        tb = ts[b[k]] if b[k] >= 0 else INF
        if ta != tb:
            return np.int64(-1) if ta < tb else np.int64(1)
    for k in range(n):
        pa = a[k] if a[k] >= 0 else INF
        pb = b[k] if b[k] >= 0 else INF
        if pa != pb:
            return np.int64(-1) if pa < pb else np.int64(1)
    return np.int64(0)


@njit(cache=True, nogil=True)
def match_group(cand: np.int64, mask: np.ndarray, i: np.int64, j: np.int64, assign: np.ndarray,
                owner: np.ndarray, prev_ev: np.ndarray, queue: np.ndarray, seen: np.ndarray,
                blocked: np.ndarray) -> bool:
    """Can the steps in ``cand`` be filled by distinct events of positions [i, j) (not ``blocked[q - i]``)?
    Fills ``assign[step-1]``.

    Kuhn's algorithm with a breadth-first augmenting path per step (steps in ascending order).
    ``owner[q - i]`` is the step an event fills (-1 = free).
    """
    g = j - i
    for q in range(g):
        owner[q] = -1
    bits = cand
    while bits != 0:
        step = lowest_step(bits)
        bits &= bits - 1
        for q in range(g):
            seen[q] = 0
        # BFS over steps; queue holds steps, prev_ev[q] = the step from which event q was reached
        head = 0
        tail = 0
        queue[tail] = step
        tail += 1
        found = -1
        while head < tail and found < 0:
            u = queue[head]
            head += 1
            bit = np.int64(1) << (u - 1)
            for q in range(g):
                if seen[q] == 0 and blocked[q] == 0 and (np.int64(mask[i + q]) & bit) != 0:
                    seen[q] = 1
                    prev_ev[q] = u
                    if owner[q] < 0:
                        found = q
                        break
                    queue[tail] = owner[q]
                    tail += 1
        if found < 0:
            return False
        # augment: walk back from the free event to the root step
        q = found
        while True:
            u = prev_ev[q]
            old = assign[u - 1]
            owner[q] = u
            assign[u - 1] = i + q
            if u == step:
                break
            q = old - i
    return True


@njit(cache=True, nogil=True)
def at_least_as_good(k: np.int64, s1: np.int64, p1: np.int64, D1: np.ndarray, w1: np.ndarray, s2: np.int64,
                     p2: np.int64, D2: np.ndarray, w2: np.ndarray, ts: np.ndarray, n: np.int64, flags: np.int64,
                     E: np.int64, ex_from: np.ndarray, ex_to: np.ndarray, target: np.int64) -> bool:
    """Is state 1 at least as good as state 2 (both at step k) for every future, and no later in order?

    A later start leaves more window; a later last step more ``within`` room (and, strict, it is the
    only one alive); later exclusion deadlines more room. For an exclusion the target level leaves
    open, what matters is the deadline minus the start (no excluded event before the window's end).
    """
    if s1 < s2:
        return False
    if (flags & NEEDS_P) != 0 and p1 < p2:
        return False
    for e in range(E):
        if ex_from[e] <= k < ex_to[e]:
            if target >= 0 and ex_to[e] > target:
                if D1[e] - s1 < D2[e] - s2:
                    return False
            elif D1[e] < D2[e]:
                return False
    return (flags & LEX) == 0 or key_cmp(w1, w2, ts, n) <= 0


@njit(cache=True, nogil=True)
def scan_group(i: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64, gpos: np.ndarray,
               info: np.ndarray) -> np.int64:
    """The instant starting at ``i``: returns its end; ``info`` = [steps matched (OR), events matching a step,
    any event matching several steps, first such event]; ``gpos[k]`` = first event of step k+1 there."""
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
            gpos[k] = -1
        for r in range(i, j):
            mr = np.int64(mask[r])
            if mr != 0:
                kk = lowest_step(mr) - 1
                if gpos[kk] < 0:
                    gpos[kk] = r
    info[0] = G
    info[1] = nz
    info[2] = multi
    info[3] = first_nz
    return j


@njit(cache=True, nogil=True)
def extend(entry: np.int64, i: np.int64, j: np.int64, lo: np.int64, prev_t: np.int64, ts: np.ndarray,
           mask: np.ndarray, n: np.int64, W: np.int64, within: np.ndarray, reqmask: np.int64, flags: np.int64,
           E: np.int64, ex_from: np.ndarray, ex_to: np.ndarray, nx: np.ndarray, target: np.int64, info: np.ndarray,
           gpos: np.ndarray, pool: np.ndarray, pD: np.ndarray, pw: np.ndarray, cand: np.ndarray, cD: np.ndarray,
           cw: np.ndarray, nc: np.int64, scratch: np.ndarray, best_w: np.ndarray, best_has: np.ndarray,
           out: np.ndarray) -> np.int64:
    """Chains grown from pool state ``entry`` (-1: a new chain) with the events of the instant [i, j).

    New states go to ``cand`` (rows: step, start, last) from row ``nc``; returns the new count.
    ``out`` = [max level, found a valid chain at target, a chain completed].
    """
    T = ts[i]
    G, nz, multi, first_nz = info[0], info[1], info[2], info[3]
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
    assign = scratch[0]
    S = np.int64(0)  # required steps after k, before k2
    opt_here = np.int64(0)  # optional steps after k, before k2, that this instant could fill
    for k2 in range(k + 1, n + 1):
        bit = np.int64(1) << (k2 - 1)
        base = S | bit
        if (G & bit) != 0 and multi != 0 and not _fits(base, mask, i, j, assign, scratch):
            if (reqmask & bit) != 0:
                break  # the required steps do not fit: nothing further will
        elif (G & bit) != 0:
            if nz == 1 and (base & (base - 1)) != 0:
                break  # one event fills one step
            if (flags & EXCL) != 0 and k >= 1:
                bad = False
                for e in range(E):
                    if ex_from[e] <= k and k < ex_to[e] <= k2 and pD[entry, e] < T:
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
                    if _within_ok(trial, k, T, p, within) and (multi == 0 or _fits(trial, mask, i, j, assign,
                                                                                    scratch)):
                        F |= o
            steps = F | base
            if _within_ok(steps, k, T, p, within):
                if multi != 0 and (flags & LEX) != 0:
                    _lex_assign(steps, mask, i, j, assign, scratch)  # which event fills which step
                nc = _new_state(entry, k, k2, s, T, i, lo, steps, nz, multi, first_nz, n, W, flags, E, ex_from,
                                ex_to, nx, target, gpos, assign, pD, pw, cand, cD, cw, nc, ts, best_w, best_has,
                                out)
        if (reqmask & bit) != 0:
            if (G & bit) == 0:
                break
            S |= bit
        elif (G & bit) != 0:
            opt_here |= bit
    return nc


@njit(cache=True, nogil=True)
def _within_ok(steps: np.int64, k: np.int64, T: np.int64, p: np.int64, within: np.ndarray) -> bool:
    """The first step filled at T (the others follow it at once) keeps its within bound to p."""
    if k == 0:
        return True
    f = lowest_step(steps)
    return within[f - 1] < 0 or T - p <= within[f - 1]


@njit(cache=True, nogil=True)
def _fits(steps: np.int64, mask: np.ndarray, i: np.int64, j: np.int64, assign: np.ndarray,
          scratch: np.ndarray) -> bool:
    for kk in range(assign.shape[0]):
        assign[kk] = -1
    return match_group(steps, mask, i, j, assign, scratch[1], scratch[2], scratch[3], scratch[4], scratch[5])


@njit(cache=True, nogil=True)
def _lex_assign(steps: np.int64, mask: np.ndarray, i: np.int64, j: np.int64, assign: np.ndarray,
                scratch: np.ndarray) -> None:
    """The assignment of a fitting set of steps with the smallest positions, step by step in order."""
    blocked = scratch[5]
    tmp = scratch[6]
    bits = steps
    while bits != 0:
        st = lowest_step(bits)
        bits &= bits - 1
        for q in range(i, j):
            if blocked[q - i] == 0 and (np.int64(mask[q]) >> (st - 1)) & 1:
                blocked[q - i] = 1
                for kk in range(tmp.shape[0]):
                    tmp[kk] = -1
                if bits == 0 or match_group(bits, mask, i, j, tmp, scratch[1], scratch[2], scratch[3], scratch[4],
                                            blocked):
                    assign[st - 1] = q
                    break
                blocked[q - i] = 0
    for q in range(j - i):
        blocked[q] = 0


@njit(cache=True, nogil=True)
def _new_state(entry: np.int64, k: np.int64, k2: np.int64, s: np.int64, T: np.int64, i: np.int64, lo: np.int64,
               steps: np.int64, nz: np.int64, multi: np.int64, first_nz: np.int64, n: np.int64, W: np.int64,
               flags: np.int64, E: np.int64, ex_from: np.ndarray, ex_to: np.ndarray, nx: np.ndarray,
               target: np.int64, gpos: np.ndarray, assign: np.ndarray, pD: np.ndarray, pw: np.ndarray,
               cand: np.ndarray, cD: np.ndarray, cw: np.ndarray, nc: np.int64, ts: np.ndarray, best_w: np.ndarray,
               best_has: np.ndarray, out: np.ndarray) -> np.int64:
    """Write the state (k2, s, T) at ``cand[nc]``, record what it proves; returns nc + 1 if it is kept."""
    lex = (flags & LEX) != 0
    cand[nc, 0] = k2
    cand[nc, 1] = s
    cand[nc, 2] = T
    for e in range(E):
        if ex_from[e] <= k < ex_to[e] and ex_to[e] > k2:
            cD[nc, e] = pD[entry, e]
        elif k < ex_from[e] <= k2 < ex_to[e]:
            cD[nc, e] = nx[e, i - lo]
        else:
            cD[nc, e] = INF
    if lex:
        for kk in range(n):
            cw[nc, kk] = pw[entry, kk] if entry >= 0 else np.int64(-1)
        bits = steps
        while bits != 0:
            st = lowest_step(bits)
            bits &= bits - 1
            if nz == 1:
                cw[nc, st - 1] = first_nz
            elif multi != 0:
                cw[nc, st - 1] = assign[st - 1]
            else:
                cw[nc, st - 1] = gpos[st - 1]
    if k2 > out[0]:
        out[0] = k2
    keep = k2 < n and T - s < W
    if (flags & RESET) != 0:
        if k2 == n:
            out[2] = 1
    elif target >= 0:
        if k2 == target:
            keep = False
            valid = True
            if (flags & EXCL) != 0:
                for e in range(E):
                    if ex_from[e] <= k2 < ex_to[e] and cD[nc, e] < s + W:
                        valid = False
            if valid:
                out[1] = 1
                if lex and (best_has[0] == 0 or key_cmp(cw[nc], best_w[0], ts, n) < 0):
                    best_w[0, :] = cw[nc, :]
                    best_has[0] = 1
    elif lex and (best_has[k2] == 0 or key_cmp(cw[nc], best_w[k2], ts, n) < 0):
        best_w[k2, :] = cw[nc, :]
        best_has[k2] = 1
    return nc + 1 if keep else nc


@njit(cache=True, nogil=True)
def merge(m: np.int64, nc: np.int64, T: np.int64, W: np.int64, ts: np.ndarray, n: np.int64, flags: np.int64,
          E: np.int64, ex_from: np.ndarray, ex_to: np.ndarray, target: np.int64, pool: np.ndarray, pD: np.ndarray,
          pw: np.ndarray, cand: np.ndarray, cD: np.ndarray, cw: np.ndarray) -> np.int64:
    """Drop pool states that cannot grow after instant T, add the candidates that no state beats (and drop
    the states they beat). The pool must have room for ``m + nc`` states. Returns the new pool size."""
    lex = (flags & LEX) != 0
    w = np.int64(0)
    for y in range(m):
        if T - pool[y, 1] >= W or ((flags & STRICT) != 0 and pool[y, 2] < T):
            continue
        if w != y:
            _copy(pool, pD, pw, y, w, lex)
        w += 1
    m = w
    for c in range(nc):
        k = cand[c, 0]
        beaten = False
        for y in range(m):
            if pool[y, 0] == k and at_least_as_good(k, pool[y, 1], pool[y, 2], pD[y], pw[y if lex else 0],
                                                    cand[c, 1], cand[c, 2], cD[c], cw[c if lex else 0], ts, n,
                                                    flags, E, ex_from, ex_to, target):
                beaten = True
                break
        if beaten:
            continue
        w = np.int64(0)
        for y in range(m):
            if pool[y, 0] == k and at_least_as_good(k, cand[c, 1], cand[c, 2], cD[c], cw[c if lex else 0],
                                                    pool[y, 1], pool[y, 2], pD[y], pw[y if lex else 0], ts, n,
                                                    flags, E, ex_from, ex_to, target):
                continue
            if w != y:
                _copy(pool, pD, pw, y, w, lex)
            w += 1
        m = w
        pool[m, :] = cand[c, :]
        pD[m, :] = cD[c, :]
        if lex:
            pw[m, :] = cw[c, :]
        m += 1
    return m


@njit(cache=True, nogil=True)
def _copy(pool: np.ndarray, pD: np.ndarray, pw: np.ndarray, src: np.int64, dst: np.int64, lex: bool) -> None:
    pool[dst, :] = pool[src, :]
    pD[dst, :] = pD[src, :]
    if lex:
        pw[dst, :] = pw[src, :]


@njit(cache=True, nogil=True)
def new_workspace(cap: np.int64, n: np.int64, E: np.int64, maxg: np.int64
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                             np.ndarray, np.ndarray, np.ndarray]:
    """Arrays the search reuses from entity to entity: a pool of ``cap`` states, room for ``cap * n``
    candidates, matching scratch for instants of up to ``maxg`` events."""
    ecols = max(E, np.int64(1))
    ccap = cap * n
    scratch = np.empty((7, maxg + n + 1), np.int64)
    scratch[5, :] = 0  # no event blocked
    return (np.empty((cap, 3), np.int64), np.empty((cap, ecols), np.int64), np.empty((cap, n), np.int64),
            np.empty((ccap, 3), np.int64), np.empty((ccap, ecols), np.int64), np.empty((ccap, n), np.int64),
            scratch, np.empty(n, np.int64), np.zeros(4, np.int64), np.zeros(3, np.int64))


@njit(cache=True, nogil=True)
def chain_search(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64, W: np.int64,
                 within: np.ndarray, reqmask: np.int64, flags: np.int64, E: np.int64, ex_from: np.ndarray,
                 ex_to: np.ndarray, nx: np.ndarray, target: np.int64, best_w: np.ndarray, best_has: np.ndarray,
                 ws: tuple) -> tuple[np.int64, bool, np.int64, bool]:
    """One pass over the entity's events [lo, hi).
    Returns (max level, found a valid chain at target, conversions, fitted in the workspace).

    - ``target < 0``: find the maximum level; with LEX, ``best_w[k]`` gets the lexicographically
      first chain reaching each level k (``best_has[k]`` set).
    - ``target >= 0``: only chains ending at step ``target`` matter; ``found`` says a valid one exists
      (the window-end rule for exclusions applies); with LEX, ``best_w[0]`` gets the first one.
    - RESET: count conversions: on the first instant where a valid chain completes, count it and
      start over after that instant.
    ``reqmask`` has bit k-1 for each step that may not be skipped; ``flags`` combines STRICT, EXCL
    (apply exclusions), LEX and RESET (one compiled function whatever the mode). When the states
    outgrow the workspace ``ws`` (see :func:`new_workspace`) the last value is False: retry with more.
    """
    pool, pD, pw, cand, cD, cw, scratch, gpos, info, out = ws
    for k in range(n):
        if within[k] >= 0:
            flags |= NEEDS_P
    if (flags & STRICT) != 0:
        flags |= NEEDS_P
    cap = pool.shape[0]
    ccap = cand.shape[0]
    out[0] = 0
    out[1] = 0
    m = np.int64(0)
    conv = np.int64(0)
    prev_t = -INF
    i = lo
    while i < hi:
        T = ts[i]
        j = scan_group(i, hi, ts, mask, n, gpos, info)
        nc = np.int64(0)
        out[2] = 0
        if info[0] != 0:
            if (m + 1) * n > ccap or j - i + n + 1 > scratch.shape[1]:
                return out[0], out[1] != 0, conv, False
            for entry in range(-1, m):
                if entry < 0 and (info[0] & 1) == 0:
                    continue
                nc = extend(entry, i, j, lo, prev_t, ts, mask, n, W, within, reqmask, flags, E, ex_from, ex_to, nx,
                            target, info, gpos, pool, pD, pw, cand, cD, cw, nc, scratch, best_w, best_has, out)
        if out[2] != 0:
            conv += 1
            m = 0
            nc = 0
        if m + nc > cap:
            return out[0], out[1] != 0, conv, False
        m = merge(m, nc, T, W, ts, n, flags, E, ex_from, ex_to, target, pool, pD, pw, cand, cD, cw)
        if (flags & (RESET | LEX)) == 0 and ((target < 0 and out[0] == n) or (target >= 0 and out[1] != 0)):
            break
        prev_t = T
        i = j
    return out[0], out[1] != 0, conv, True


@njit(cache=True, nogil=True)
def next_excluded(lo: np.int64, hi: np.int64, ts: np.ndarray, xmask: np.ndarray, E: np.int64) -> np.ndarray:
    """``nx[e, q - lo]`` = the first time of an event of exclusion e strictly after ``ts[q]`` (INF if none)."""
    nx = np.empty((max(E, np.int64(1)), hi - lo), np.int64)
    for e in range(E):
        nxt = INF
        q = hi - 1
        while q >= lo:
            r = q
            while r > lo and ts[r - 1] == ts[q]:
                r -= 1
            # group [r, q]; events of this group are not strictly after its own instant
            for x in range(r, q + 1):
                nx[e, x - lo] = nxt
            for x in range(r, q + 1):
                if (np.int64(xmask[x]) >> e) & 1:
                    nxt = ts[x]
            q = r - 1
    return nx
