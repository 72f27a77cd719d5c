"""Which step (and which exclusion) each event matches, as bitmasks: from Arrow columns or as store SQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerjourney.engine.driver import as_numpy
from buyerjourney.engine.filters import Condition, all_match, decode_properties
from buyerjourney.engine.query import FunnelQuery


def _targets(query: FunnelQuery) -> tuple[list[tuple[str, tuple[Condition, ...], int]],
                                          list[tuple[str, tuple[Condition, ...], int]]]:
    steps = [(s.event, s.where, i) for i, s in enumerate(query.steps)]
    exclusions = [(x.event, x.where, i) for i, x in enumerate(query.exclusions)]
    return steps, exclusions


def masks_from_columns(event: pa.Array | pa.ChunkedArray, properties: pa.Array | pa.ChunkedArray | None,
                       query: FunnelQuery) -> tuple[np.ndarray, np.ndarray]:
    """Step and exclusion bitmasks (uint32) for events given by name and properties JSON text.

    Names are matched per distinct name; filters are evaluated once per distinct properties text.
    """
    steps, exclusions = _targets(query)
    encoded = pc.dictionary_encode(event)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = encoded.dictionary.to_pylist()
    codes = as_numpy(encoded.indices, np.int64)
    out = []
    for targets in (steps, exclusions):
        lut = np.zeros(len(names) + 1, np.uint32)
        filtered: dict[int, list[tuple[tuple[Condition, ...], int]]] = {}
        for code, name in enumerate(names):
            for ev, where, bit in targets:
                if ev != name:
                    continue
                if where:
                    filtered.setdefault(code, []).append((where, bit))
                else:
                    lut[code] |= np.uint32(1 << bit)
        masks = lut[codes] if len(codes) else np.zeros(0, np.uint32)
        if filtered:
            masks = masks.copy()
            rows = np.flatnonzero(np.isin(codes, np.fromiter(filtered, np.int64)))
            props = properties.take(pa.array(rows)).to_pylist() if properties is not None else [None] * len(rows)
            cache: dict[tuple[int, Any], int] = {}
            for row, text in zip(rows.tolist(), props, strict=True):
                code = int(codes[row])
                key = (code, text)
                bits = cache.get(key)
                if bits is None:
                    decoded = decode_properties(text) if isinstance(text, str) else text
                    bits = 0
                    for where, bit in filtered[code]:
                        if all_match(where, decoded if isinstance(decoded, Mapping) else None):
                            bits |= 1 << bit
                    cache[key] = bits
                masks[row] |= np.uint32(bits)
        out.append(masks)
    return out[0], out[1]


def store_mask_sql(query: FunnelQuery, event_keys: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, str, str,
                                                                            list[Any], list[int]]:
    """What the store scan needs to build the masks.

    Returns (step LUT by event_key, exclusion LUT by event_key, SQL expression of the filtered step bits,
    SQL expression of the filtered exclusion bits, their parameters in order, event keys the funnel uses).
    Filtered bits are only set when the event name matches too.
    """
    steps, exclusions = _targets(query)
    size = max(event_keys.values(), default=-1) + 2
    parts_sql: list[str] = []
    params: list[Any] = []
    luts = []
    used: set[int] = set()
    for targets in (steps, exclusions):
        lut = np.zeros(size, np.uint32)
        terms = []
        for ev, where, bit in targets:
            key = event_keys.get(ev)
            if key is None:
                continue
            used.add(key)
            if not where:
                lut[key] |= np.uint32(1 << bit)
                continue
            conds = [c.to_sql("properties") for c in where]
            terms.append(f"(CASE WHEN event_key = ? AND {' AND '.join(s for s, _ in conds)} THEN {1 << bit} "
                         "ELSE 0 END)")
            params.append(key)
            params.extend(p for _, ps in conds for p in ps)
        parts_sql.append(" | ".join(terms) if terms else "")
        luts.append(lut)
    return luts[0], luts[1], parts_sql[0], parts_sql[1], params, sorted(used)
