"""Unordered funnels: the largest number of distinct steps filled by distinct events inside one window.

Events are grouped by their step bitmask ("classes"); the steps a window can fill is a bipartite
matching between steps and classes with capacities (the number of the window's events of each class).
When every event matches at most one step this is just the number of steps present, kept incrementally.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from buyerjourney.engine.kernel_dp import INF


@njit(cache=True, nogil=True)
def class_matching(cls_mask: np.ndarray, cnt: np.ndarray, C: np.int64, n: np.int64, step_cls: np.ndarray,
                   used: np.ndarray, prev_step: np.ndarray, prev_cls: np.ndarray, seen: np.ndarray,
                   queue: np.ndarray) -> np.int64:
    """Maximum number of steps matched to classes, each class ``c`` taking at most ``cnt[c]`` steps."""
    for c in range(C):
        used[c] = 0
    for u in range(n + 1):
        step_cls[u] = -1
    size = np.int64(0)
    for root in range(1, n + 1):
        for c in range(C):
            seen[c] = 0
        head = 0
        tail = 0
        queue[tail] = root
        tail += 1
        free = -1
        while head < tail and free < 0:
            u = queue[head]
            head += 1
            bit = np.int64(1) << (u - 1)
            for c in range(C):
                if seen[c] == 0 and cnt[c] > 0 and (cls_mask[c] & bit) != 0:
                    seen[c] = 1
                    prev_step[c] = u
                    if used[c] < cnt[c]:
                        free = c
                        break
                    for v in range(1, n + 1):
                        if step_cls[v] == c:
                            prev_cls[v] = c
                            queue[tail] = v
                            tail += 1
        if free < 0:
            continue
        c = free
        while True:
            u = prev_step[c]
            oc = step_cls[u]
            step_cls[u] = c
            if u == root:
                break
            c = oc
        used[free] += 1
        size += 1
    return size


@njit(cache=True, nogil=True)
def unordered_entity(lo: np.int64, hi: np.int64, ts: np.ndarray, mask: np.ndarray, n: np.int64, W: np.int64,
                     chain: np.ndarray) -> tuple[np.int64, np.int64]:
    """Level and conversions of one entity; ``chain[0:level]`` gets the chosen events' positions, in time order."""
    size_all = hi - lo
    cls_mask = np.empty(min(size_all, np.int64(1024)) + 1, np.int64)
    cls_of = np.full(size_all, -1, np.int64)
    C = np.int64(0)
    single = True
    for q in range(lo, hi):
        mq = np.int64(mask[q])
        if mq == 0:
            continue
        found = -1
        for c in range(C):
            if cls_mask[c] == mq:
                found = c
                break
        if found < 0:
            if cls_mask.shape[0] <= C:
                bigger = np.empty(cls_mask.shape[0] * 2, np.int64)
                bigger[:C] = cls_mask[:C]
                cls_mask = bigger
            cls_mask[C] = mq
            found = C
            C += 1
            if (mq & (mq - 1)) != 0:
                single = False
        cls_of[q - lo] = found
    for k in range(n):
        chain[k] = -1
    if C == 0:
        return np.int64(0), np.int64(0)
    cnt = np.zeros(C, np.int64)
    step_cls = np.empty(n + 1, np.int64)
    used = np.empty(C, np.int64)
    prev_step = np.empty(C, np.int64)
    prev_cls = np.empty(n + 1, np.int64)
    seen = np.empty(C, np.int64)
    queue = np.empty(n * (n + 1) + 1, np.int64)

    # level: windows [t_a, t_a + W] for every instant a that has an event filling some step
    level = np.int64(0)
    best_a = np.int64(-1)
    present = np.int64(0)
    b = lo
    a = lo
    while a < hi:
        a_end = a
        first = np.int64(-1)
        while a_end < hi and ts[a_end] == ts[a]:
            if first < 0 and cls_of[a_end - lo] >= 0:
                first = a_end
            a_end += 1
        while b < hi and ts[b] <= ts[a] + W:
            c = cls_of[b - lo]
            if c >= 0:
                cnt[c] += 1
                if cnt[c] == 1:
                    present += 1
            b += 1
        if first >= 0:
            if single:
                size = present
            else:
                size = class_matching(cls_mask, cnt, C, n, step_cls, used, prev_step, prev_cls, seen, queue)
            if size > level:
                level = size
                best_a = first
                if level == n:
                    break
        for r in range(a, a_end):
            c = cls_of[r - lo]
            if c >= 0:
                cnt[c] -= 1
                if cnt[c] == 0:
                    present -= 1
        a = a_end

    # the chosen events: from best_a, in time order, each kept if it enlarges the matching
    if level > 0:
        step_ev = np.full(n + 1, -1, np.int64)
        taken = np.int64(0)
        q = best_a
        while q < hi and ts[q] <= ts[best_a] + W and taken < level:
            if cls_of[q - lo] >= 0 and _augment_event(q, mask, n, step_ev, prev_cls, seen, queue):
                chain[taken] = q
                taken += 1
            q += 1

    # conversions: earliest-ending complete windows, each starting strictly after the previous ended
    conv = np.int64(0)
    if level == n:
        for c in range(C):
            cnt[c] = 0
        present = 0
        start = lo
        after = -INF
        e = lo
        while e < hi:
            g = e
            while g < hi and ts[g] == ts[e]:
                c = cls_of[g - lo]
                if c >= 0:
                    cnt[c] += 1
                    if cnt[c] == 1:
                        present += 1
                g += 1
            while start < g and (ts[start] < ts[e] - W or ts[start] <= after):
                c = cls_of[start - lo]
                if c >= 0:
                    cnt[c] -= 1
                    if cnt[c] == 0:
                        present -= 1
                start += 1
            if single:
                size = present
            else:
                size = class_matching(cls_mask, cnt, C, n, step_cls, used, prev_step, prev_cls, seen, queue)
            if size == n:
                conv += 1
                after = ts[e]
                while start < g:
                    c = cls_of[start - lo]
                    if c >= 0:
                        cnt[c] -= 1
                        if cnt[c] == 0:
                            present -= 1
                    start += 1
            e = g
    return level, conv


@njit(cache=True, nogil=True)
def _augment_event(q: np.int64, mask: np.ndarray, n: np.int64, step_ev: np.ndarray, prev_ev: np.ndarray,
                   seen: np.ndarray, queue: np.ndarray) -> bool:
    """Add event ``q`` to the step matching ``step_ev`` if an augmenting path exists (Kuhn, event side)."""
    seen_steps = np.zeros(n + 1, np.int64)
    via = np.full(n + 1, -1, np.int64)  # via[u] = event from which step u was reached
    head = 0
    tail = 0
    queue[tail] = q
    tail += 1
    free = -1
    while head < tail and free < 0:
        x = queue[head]
        head += 1
        mx = np.int64(mask[x])
        for u in range(1, n + 1):
            if seen_steps[u] == 0 and (mx >> (u - 1)) & 1:
                seen_steps[u] = 1
                via[u] = x
                if step_ev[u] < 0:
                    free = u
                    break
                queue[tail] = step_ev[u]
                tail += 1
    if free < 0:
        return False
    u = free
    while True:
        x = via[u]
        # x leaves the step it held (if any) for u
        old = -1
        for v in range(1, n + 1):
            if step_ev[v] == x and v != u:
                old = v
                break
        step_ev[u] = x
        if x == q:
            break
        u = old
    return True
