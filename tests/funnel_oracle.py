"""A brute-force reference of DESIGN section 3, written from the text and nothing else.

It enumerates every chain of every entity, so it is only for small journeys (tests, Hypothesis).
It shares no code with the engine: its own timestamp parsing, property matching and chain search.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
INF = math.inf


def seconds(duration: str | int) -> int:
    if isinstance(duration, int):
        return duration
    return int(duration[:-1]) * UNITS[duration[-1]]


def epoch_us(ts: Any) -> int:
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return round(ts * 1_000_000)
    parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return round(parsed.timestamp() * 1_000_000)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "num"
    return "str" if isinstance(v, str) else "other"


def _same(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) and _kind(a) != "other" and a == b


def prop_match(where: dict[str, Any] | None, props: dict[str, Any] | None) -> bool:
    """The filter syntax of the engine, re-implemented plainly: value = equality, or {op: value}."""
    for key, spec in (where or {}).items():
        if props is None or key not in props:
            return False
        v = props[key]
        tests = spec.items() if isinstance(spec, dict) else [("eq", spec)]
        for op, want in tests:
            if op == "eq":
                ok = _same(v, want)
            elif op == "ne":
                ok = not _same(v, want)
            elif op == "in":
                ok = any(_same(v, w) for w in want)
            elif op == "not_in":
                ok = not any(_same(v, w) for w in want)
            elif op == "contains":
                ok = isinstance(v, str) and want in v
            else:
                k = _kind(v)
                if k != _kind(want) or k not in ("num", "str"):
                    ok = False
                else:
                    ok = {"gt": v > want, "gte": v >= want, "lt": v < want, "lte": v <= want}[op]
            if not ok:
                return False
    return True


@dataclass
class Ev:
    pos: int
    t: int  # microseconds
    name: str
    props: dict[str, Any] | None
    event_id: str


@dataclass
class EntityResult:
    level: int = 0
    excluded: bool = False
    conversions: int = 0
    through: set[int] = field(default_factory=set)  # optional steps (1-based) on a best chain
    chain_times: list[int | None] = field(default_factory=list)  # per step (ordered) or per level (unordered)
    chain_ids: list[str | None] = field(default_factory=list)


@dataclass
class OracleResult:
    entities: dict[str, EntityResult]
    counts: list[int]

    @property
    def levels(self) -> dict[str, int]:
        return {k: v.level for k, v in self.entities.items()}

    @property
    def excluded(self) -> list[str]:
        return sorted(k for k, v in self.entities.items() if v.excluded)

    @property
    def conversions(self) -> dict[str, int]:
        return {k: v.conversions for k, v in self.entities.items()}


def _step(s: Any) -> dict[str, Any]:
    return {"event": s} if isinstance(s, str) else s


def run(events: list[dict[str, Any]], steps: list[Any], window: str | int = "14d", order: str = "ordered",
        exclusions: list[dict[str, Any]] | None = None) -> OracleResult:
    steps = [_step(s) for s in steps]
    W = seconds(window) * 1_000_000
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_entity.setdefault(str(e.get("entity_id") or e.get("anonymous_id")), []).append(e)
    results: dict[str, EntityResult] = {}
    for entity, rows in sorted(by_entity.items()):
        evs = []
        for r in rows:
            props = r.get("properties")
            if isinstance(props, str):
                props = json.loads(props)
            evs.append((epoch_us(r["ts"]), r["event"], str(r.get("event_id")), props))
        evs.sort(key=lambda x: (x[0], x[1], x[2]))
        entity_events = [Ev(i, t, name, props, eid) for i, (t, name, eid, props) in enumerate(evs)]
        if order == "unordered":
            results[entity] = _unordered(entity_events, steps, W)
        else:
            results[entity] = _ordered(entity_events, steps, W, order == "strict", exclusions or [])
    n = len(steps)
    counts = []
    for k in range(1, n + 1):
        alive = [r for r in results.values() if not r.excluded]
        if steps[k - 1].get("optional"):
            counts.append(sum(1 for r in alive if k in r.through))
        else:
            counts.append(sum(1 for r in alive if r.level >= k))
    return OracleResult(results, counts)


def _matches(ev: Ev, step: dict[str, Any]) -> bool:
    return ev.name == step["event"] and prop_match(step.get("where"), ev.props)


def _ordered(evs: list[Ev], steps: list[dict[str, Any]], W: int, strict: bool,
             exclusions: list[dict[str, Any]]) -> EntityResult:
    n = len(steps)
    within = [None if s.get("within") is None else seconds(s["within"]) * 1_000_000 for s in steps]
    chains: list[tuple[tuple[int, Ev], ...]] = []  # ((step, event), ...) in step order

    def extend(chain: tuple[tuple[int, Ev], ...]) -> None:
        chains.append(chain)
        last_step, last = chain[-1]
        first = chain[0][1]
        used = {e.pos for _, e in chain}
        for k in range(last_step + 1, n + 1):
            for ev in evs:
                if ev.pos in used or ev.t < last.t or not _matches(ev, steps[k - 1]):
                    continue
                if ev.t - first.t > W:
                    continue
                if within[k - 1] is not None and ev.t - last.t > within[k - 1]:
                    continue
                if strict and any(last.t < o.t < ev.t for o in evs):
                    continue
                extend((*chain, (k, ev)))
            if not steps[k - 1].get("optional"):
                break  # a required step cannot be skipped

    for ev in evs:
        if _matches(ev, steps[0]):
            extend(((1, ev),))

    out = EntityResult()
    if not chains:
        out.chain_times, out.chain_ids = [None] * n, [None] * n
        return out
    level = max(c[-1][0] for c in chains)
    at_level = [c for c in chains if c[-1][0] == level]

    def valid(chain: tuple[tuple[int, Ev], ...]) -> bool:
        filled = dict(chain)
        t1 = chain[0][1].t
        k = chain[-1][0]
        for ex in exclusions:
            i, j = ex["from_step"], ex["to_step"]
            if i > k:
                continue
            start = filled[i].t
            end = filled[j].t if j <= k else t1 + W
            for o in evs:
                if o.name == ex["event"] and prop_match(ex.get("where"), o.props) and start < o.t < end:
                    return False
        return True

    good = [c for c in at_level if valid(c)]
    out.level = level
    out.excluded = bool(exclusions) and not good
    best = good if good else at_level
    for c in good:
        out.through |= {k for k, _ in c if steps[k - 1].get("optional")}

    def key(chain: tuple[tuple[int, Ev], ...]) -> tuple[list[float], list[float]]:
        filled = dict(chain)
        times = [filled[k].t if k in filled else INF for k in range(1, level + 1)]
        pos = [filled[k].pos if k in filled else INF for k in range(1, level + 1)]
        return times, pos

    chosen = dict(min(best, key=key))
    out.chain_times = [chosen[k].t if k in chosen else None for k in range(1, n + 1)]
    out.chain_ids = [chosen[k].event_id if k in chosen else None for k in range(1, n + 1)]
    complete = sorted({(c[0][1].t, c[-1][1].t) for c in chains if c[-1][0] == n and valid(c)})
    out.conversions = _max_disjoint(complete)
    return out


def _max_disjoint(intervals: list[tuple[int, int]]) -> int:
    """The largest number of intervals, each starting strictly after the previous one ended."""

    @functools.cache
    def best(after: float) -> int:
        return max((1 + best(end) for start, end in intervals if start > after), default=0)

    return best(-INF)


def _matchable(evs: list[Ev], steps: list[dict[str, Any]], step_ids: list[int]) -> bool:
    """Can the steps ``step_ids`` be filled by distinct events of ``evs``?"""
    for perm in itertools.permutations(evs, len(step_ids)):
        if all(_matches(e, steps[k]) for e, k in zip(perm, step_ids, strict=True)):
            return True
    return False


def _max_matching(evs: list[Ev], steps: list[dict[str, Any]]) -> int:
    n = len(steps)
    for size in range(min(n, len(evs)), 0, -1):
        for subset in itertools.combinations(range(n), size):
            if _matchable(evs, steps, list(subset)):
                return size
    return 0


def _unordered(evs: list[Ev], steps: list[dict[str, Any]], W: int) -> EntityResult:
    n = len(steps)
    useful = [e for e in evs if any(_matches(e, s) for s in steps)]
    out = EntityResult()
    best_start = None
    for ev in useful:
        inside = [e for e in useful if ev.t <= e.t <= ev.t + W]
        size = _max_matching(inside, steps)
        if size > out.level:
            out.level, best_start = size, ev.t
    out.chain_times, out.chain_ids = [None] * n, [None] * n
    if out.level:
        inside = [e for e in useful if best_start <= e.t <= best_start + W]
        chosen = None
        for combo in itertools.combinations(inside, out.level):  # positions ascending: lexicographic order
            if _max_matching(list(combo), steps) == out.level:
                chosen = combo
                break
        for i, e in enumerate(chosen):
            out.chain_times[i], out.chain_ids[i] = e.t, e.event_id
    spans = []
    times = sorted({e.t for e in useful})
    for s, e in itertools.product(times, times):
        if s <= e <= s + W and _max_matching([x for x in useful if s <= x.t <= e], steps) == n:
            spans.append((s, e))
    out.conversions = _max_disjoint(sorted(set(spans)))
    return out
