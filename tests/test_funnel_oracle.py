"""The kernel against the brute-force oracle on generated journeys, for every mode and option."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import buyerjourney
import funnel_oracle as oracle
from buyerjourney.events import events_table_from_records
from buyerjourney.store import DuckDBStore

T0 = 1_700_000_000  # epoch seconds
NAMES = ["A", "B", "C"]
WHERES = [{"k": 1}, {"k": "1"}, {"k": {"gt": 1}}, {"k": {"in": [1, True]}}, {"k": {"ne": 2}},
          {"k": {"contains": "x"}}, {"k": {"not_in": [None, 2]}}, {"k": {"lte": "b"}}]
PROPS = [None, {"k": 1}, {"k": 2}, {"k": "1"}, {"k": True}, {"k": None}, {"k": "xa"}, {"k": 3.5}, {"j": 1}]


@st.composite
def journeys(draw: Any, names: tuple[str, ...] = (*NAMES, "X"), max_events: int = 7) -> list[dict[str, Any]]:
    events = []
    for entity in range(draw(st.integers(1, 3))):
        for i in range(draw(st.integers(0, max_events))):
            event = {"entity_id": f"e{entity}", "event": draw(st.sampled_from(names)),
                     "ts": T0 + draw(st.integers(0, 12)), "event_id": f"e{entity}-{i}"}
            props = draw(st.sampled_from(PROPS))
            if props is not None:
                event["properties"] = props
            events.append(event)
    return events


@st.composite
def funnels(draw: Any, order: str) -> dict[str, Any]:
    n = draw(st.integers(1, 4))
    steps = []
    for k in range(n):
        step: dict[str, Any] = {"event": draw(st.sampled_from(NAMES))}
        if draw(st.integers(0, 3)) == 0:
            step["where"] = draw(st.sampled_from(WHERES))
        if order != "unordered" and k > 0:
            if draw(st.booleans()):
                step["within"] = f"{draw(st.integers(0, 6))}s"
            if draw(st.integers(0, 2)) == 0:
                step["optional"] = True
        steps.append(step)
    funnel: dict[str, Any] = {"steps": steps, "window": f"{draw(st.integers(0, 12))}s", "order": order}
    required = [k + 1 for k, s in enumerate(steps) if not s.get("optional")]
    if order != "unordered" and len(required) >= 2 and draw(st.booleans()):
        exclusions = []
        for _ in range(draw(st.integers(1, 2))):
            i, j = sorted(draw(st.lists(st.sampled_from(required), min_size=2, max_size=2, unique=True)))
            exclusion: dict[str, Any] = {"event": "X", "from_step": i, "to_step": j}
            if draw(st.booleans()):
                exclusion["where"] = draw(st.sampled_from(WHERES))
            exclusions.append(exclusion)
        funnel["exclusions"] = exclusions
    return funnel


def compare(events: list[dict[str, Any]], funnel: dict[str, Any], source: Any = None) -> None:
    expected = oracle.run(events, **funnel)
    result = buyerjourney.funnel(events if source is None else source, **funnel)
    assert result.levels == expected.levels
    assert result.counts == expected.counts
    assert result.excluded == expected.excluded
    assert result.conversions == expected.conversions
    table = result.table.to_pylist()
    for row in table:
        want = expected.entities[row["entity_id"]]
        got_ts = [None if t is None else int(t.timestamp() * 1_000_000) for t in row["step_ts"]]
        assert got_ts == want.chain_times, row["entity_id"]
        assert row["step_event_id"] == want.chain_ids, row["entity_id"]


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("order", ["ordered", "strict", "unordered"])
@SETTINGS
@given(data=st.data())
def test_kernel_matches_the_oracle(order, data):
    compare(data.draw(journeys()), data.draw(funnels(order)))


@SETTINGS
@given(events=journeys(names=tuple(NAMES), max_events=9), window=st.integers(0, 12), n=st.integers(1, 4))
def test_plain_ordered_fast_path_matches_the_oracle(events, window, n):
    steps = [NAMES[k % 3] for k in range(n)]  # repeats like A, B, C, A make one event match two steps
    compare(events, {"steps": steps, "window": f"{window}s"})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_store_backend_matches_the_oracle(data):
    """Same through the DuckDB store: the SQL translation of filters agrees with the Python one."""
    order = data.draw(st.sampled_from(["ordered", "strict", "unordered"]))
    events, funnel = data.draw(journeys()), data.draw(funnels(order))
    with DuckDBStore.open(":memory:") as store:
        store.append_events(events_table_from_records(events))
        store.refresh()
        compare(events, funnel, store)


def test_within_non_greedy_example():
    events = [{"entity_id": "u", "event": e, "ts": T0 + t, "event_id": str(t)}
              for e, t in [("A", 0), ("B", 1), ("B", 5), ("C", 7), ("B", 9)]]
    funnel = {"steps": ["A", "B", {"event": "C", "within": "3s"}], "window": "20s"}
    compare(events, funnel)
    assert buyerjourney.funnel(events, **funnel).table.column("step_event_id").to_pylist() == [["0", "5", "7"]]
