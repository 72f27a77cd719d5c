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
STRICT, EXCL, LEX, RESET = 1, 2, 4, 8


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
                owner: np.ndarray, prev_ev: np.ndarray, queue: np.ndarray, seen: np.ndarray) -> bool:
    """Can the steps in ``cand`` be filled by distinct events of positions [i, j)? Fills ``assign[step-1]``.

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
                if seen[q] == 0 and (np.int64(mask[i + q]) & bit) != 0:
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
def dominates(y: np.int64, ck: np.int64, cs: np.int64, cp: np.int64, cD: np.ndarray, cw: np.ndarray,
              ps: np.ndarray, pp: np.ndarray, pD: np.ndarray, pw: np.ndarray, ts: np.ndarray, n: np.int64,
              needs_p: bool, E: np.int64, ex_from: np.ndarray, ex_to: np.ndarray, target: np.int64,
              lex: bool) -> bool:
    """Is pool state ``y`` at least as good as the candidate (same step ``ck``) in every respect?"""
    if ps[y] < cs:
        return False
    if needs_p and pp[y] < cp:
        return False
    for e in range(E):
        if ex_from[e] <= ck < ex_to[e]:
            if target >= 0 and ex_to[e] > target:
                if pD[y, e] - ps[y] < cD[e] - cs:
                    return False
            elif pD[y, e] < cD[e]:
                return False
    if lex and key_cmp(pw[y], cw, ts, n) > 0:
        return False
    return True


@njit(cache=True, nogil=True)
def chain_search(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64, W: np.int64,
                 within: np.ndarray, reqmask: np.int64, flags: np.int64, E: np.int64, ex_from: np.ndarray,
                 ex_to: np.ndarray, nx: np.ndarray, target: np.int64, best_w: np.ndarray, best_has: np.ndarray
                 ) -> tuple[np.int64, bool, np.int64]:
    """One pass over the entity's events [lo, hi). Returns (max level, found a valid chain at target, conversions).

    - ``target < 0``: find the maximum level; with ``lex``, ``best_w[k]`` gets the lexicographically
      first chain reaching each level k (``best_has[k]`` set).
    - ``target >= 0``: only chains ending at step ``target`` matter; ``found`` says a valid one exists
      (the window-end rule for exclusions applies); with ``lex``, ``best_w[0]`` gets the first one.
    - ``reset``: count conversions: on the first group where a valid chain completes, count it and
      start over after that instant.
    ``reqmask`` has bit k-1 for each step that may not be skipped; ``flags`` combines STRICT, EXCL
    (apply exclusions), LEX and RESET (one compiled function whatever the mode).
    """
    strict = (flags & STRICT) != 0
    use_excl = (flags & EXCL) != 0
    lex = (flags & LEX) != 0
    reset = (flags & RESET) != 0
    needs_p = strict
    for k in range(n):
        if within[k] >= 0:
            needs_p = True
    ecols = max(E, np.int64(1))
    cap = np.int64(8)
    pk = np.empty(cap, np.int64)
    ps = np.empty(cap, np.int64)
    pp = np.empty(cap, np.int64)
    pD = np.empty((cap, ecols), np.int64)
    pw = np.empty((cap if lex else 1, n), np.int64)
    ccap = np.int64(8)
    ck = np.empty(ccap, np.int64)
    cs = np.empty(ccap, np.int64)
    cp = np.empty(ccap, np.int64)
    cD = np.empty((ccap, ecols), np.int64)
    cw = np.empty((ccap if lex else 1, n), np.int64)
    assign = np.empty(n, np.int64)
    gpos = np.empty(n, np.int64)
    maxg = np.int64(1)
    q = lo
    while q < hi:  # the largest group decides the matching scratch size
        r = q + 1
        while r < hi and ts[r] == ts[q]:
            r += 1
        maxg = max(maxg, r - q)
        q = r
    owner = np.empty(maxg, np.int64)
    prev_ev = np.empty(maxg, np.int64)
    queue = np.empty(maxg + n + 1, np.int64)
    seen = np.empty(maxg, np.int64)

    m = np.int64(0)
    maxlevel = np.int64(0)
    found = False
    conv = np.int64(0)
    prev_t = -INF
    i = lo
    while i < hi:
        T = ts[i]
        j = i
        G = np.int64(0)
        nz = np.int64(0)
        multi = False
        first_nz = np.int64(-1)
        while j < hi and ts[j] == T:
            mj = np.int64(mask[j])
            if mj != 0:
                G |= mj
                nz += 1
                if first_nz < 0:
                    first_nz = j
                if (mj & (mj - 1)) != 0:
                    multi = True
            j += 1
        nc = np.int64(0)
        completed = False
        if G != 0:
            if nz > 1 and not multi:
                for k in range(n):
                    gpos[k] = -1
                for r in range(i, j):
                    mr = np.int64(mask[r])
                    if mr != 0:
                        kk = lowest_step(mr) - 1
                        if gpos[kk] < 0:
                            gpos[kk] = r
            for entry in range(-1, m):
                if entry < 0:
                    if (G & 1) == 0:
                        continue
                    k = np.int64(0)
                    s = T
                    p = T
                else:
                    k = pk[entry]
                    s = ps[entry]
                    p = pp[entry]
                    if T - s > W:
                        continue
                    if strict and p != prev_t:
                        continue
                S = np.int64(0)
                for k2 in range(k + 1, n + 1):
                    bit = np.int64(1) << (k2 - 1)
                    if (G & bit) != 0:
                        cand = S | bit
                        ok = True
                        if k >= 1:
                            f = lowest_step(cand)
                            if within[f - 1] >= 0 and T - p > within[f - 1]:
                                ok = False
                                if S != 0:
                                    break
                        if ok:
                            if nz == 1:
                                if (cand & (cand - 1)) != 0:
                                    break
                            elif multi:
                                for kk in range(n):
                                    assign[kk] = -1
                                if not match_group(cand, mask, i, j, assign, owner, prev_ev, queue, seen):
                                    break
                        if ok and use_excl and k >= 1:
                            bad = False
                            for e in range(E):
                                if ex_from[e] <= k and k < ex_to[e] <= k2 and pD[entry, e] < T:
                                    bad = True
                            if bad:
                                break
                        if ok:
                            # the new chain state (k2, s, T)
                            if nc >= ccap:
                                ccap *= 2
                                ck = _grow1(ck, ccap)
                                cs = _grow1(cs, ccap)
                                cp = _grow1(cp, ccap)
                                cD = _grow2(cD, ccap)
                                if lex:
                                    cw = _grow2(cw, ccap)
                            ck[nc] = k2
                            cs[nc] = s
                            cp[nc] = T
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
                                bits = cand
                                while bits != 0:
                                    st = lowest_step(bits)
                                    bits &= bits - 1
                                    if nz == 1:
                                        cw[nc, st - 1] = first_nz
                                    elif multi:
                                        cw[nc, st - 1] = assign[st - 1]
                                    else:
                                        cw[nc, st - 1] = gpos[st - 1]
                            keep = True
                            if k2 > maxlevel:
                                maxlevel = k2
                            if reset:
                                if k2 == n:
                                    completed = True
                                    keep = False
                            elif target >= 0:
                                if k2 == target:
                                    keep = False
                                    valid = True
                                    if use_excl:
                                        for e in range(E):
                                            if ex_from[e] <= k2 < ex_to[e] and cD[nc, e] < s + W:
                                                valid = False
                                    if valid:
                                        found = True
                                        if lex and (best_has[0] == 0 or key_cmp(cw[nc], best_w[0], ts, n) < 0):
                                            best_w[0, :] = cw[nc, :]
                                            best_has[0] = 1
                            elif lex:
                                if best_has[k2] == 0 or key_cmp(cw[nc], best_w[k2], ts, n) < 0:
                                    best_w[k2, :] = cw[nc, :]
                                    best_has[k2] = 1
                            if k2 >= n or T - s >= W:
                                keep = False
                            if keep:
                                nc += 1
                    if (reqmask & bit) != 0:
                        if (G & bit) == 0:
                            break
                        S |= bit
        # drop states that can no longer grow, then merge the new ones (Pareto)
        if completed:
            conv += 1
            m = 0
            nc = 0
        w = np.int64(0)
        for y in range(m):
            if T - ps[y] >= W or (strict and pp[y] < T):
                continue
            if w != y:
                _copy_state(pk, ps, pp, pD, pw, y, w, lex)
            w += 1
        m = w
        for c in range(nc):
            dominated = False
            for y in range(m):
                if pk[y] == ck[c] and dominates(y, ck[c], cs[c], cp[c], cD[c], cw[c] if lex else cw[0], ps, pp, pD,
                                                pw, ts, n, needs_p, E, ex_from, ex_to, target, lex):
                    dominated = True
                    break
            if dominated:
                continue
            w = np.int64(0)
            for y in range(m):
                if pk[y] == ck[c] and _cand_dominates(c, y, ck, cs, cp, cD, cw, ps, pp, pD, pw, ts, n, needs_p,
                                                      E, ex_from, ex_to, target, lex):
                    continue
                if w != y:
                    _copy_state(pk, ps, pp, pD, pw, y, w, lex)
                w += 1
            m = w
            if m >= cap:
                cap *= 2
                pk = _grow1(pk, cap)
                ps = _grow1(ps, cap)
                pp = _grow1(pp, cap)
                pD = _grow2(pD, cap)
                if lex:
                    pw = _grow2(pw, cap)
            pk[m] = ck[c]
            ps[m] = cs[c]
            pp[m] = cp[c]
            pD[m, :] = cD[c, :]
            if lex:
                pw[m, :] = cw[c, :]
            m += 1
        if not reset and not lex and ((target < 0 and maxlevel == n) or (target >= 0 and found)):
            break
        prev_t = T
        i = j
    return maxlevel, found, conv


@njit(cache=True, nogil=True)
def _cand_dominates(c: np.int64, y: np.int64, ck: np.ndarray, cs: np.ndarray, cp: np.ndarray, cD: np.ndarray,
                    cw: np.ndarray, ps: np.ndarray, pp: np.ndarray, pD: np.ndarray, pw: np.ndarray, ts: np.ndarray,
                    n: np.int64, needs_p: bool, E: np.int64, ex_from: np.ndarray, ex_to: np.ndarray,
                    target: np.int64, lex: bool) -> bool:
    """Is candidate ``c`` at least as good as pool state ``y`` (same step)?"""
    if cs[c] < ps[y]:
        return False
    if needs_p and cp[c] < pp[y]:
        return False
    k = ck[c]
    for e in range(E):
        if ex_from[e] <= k < ex_to[e]:
            if target >= 0 and ex_to[e] > target:
                if cD[c, e] - cs[c] < pD[y, e] - ps[y]:
                    return False
            elif cD[c, e] < pD[y, e]:
                return False
    if lex and key_cmp(cw[c], pw[y], ts, n) > 0:
        return False
    return True


@njit(cache=True, nogil=True)
def _copy_state(pk: np.ndarray, ps: np.ndarray, pp: np.ndarray, pD: np.ndarray, pw: np.ndarray, src: np.int64,
                dst: np.int64, lex: bool) -> None:
    pk[dst] = pk[src]
    ps[dst] = ps[src]
    pp[dst] = pp[src]
    pD[dst, :] = pD[src, :]
    if lex:
        pw[dst, :] = pw[src, :]


@njit(cache=True, nogil=True)
def _grow1(a: np.ndarray, size: np.int64) -> np.ndarray:
    out = np.empty(size, a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _grow2(a: np.ndarray, size: np.int64) -> np.ndarray:
    out = np.empty((size, a.shape[1]), a.dtype)
    out[: a.shape[0], :] = a
    return out


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
