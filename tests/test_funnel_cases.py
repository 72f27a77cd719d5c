"""Every golden case of shared/conformance/funnel_cases.json, through the public API, on every backend."""

from __future__ import annotations

import json

import pytest

import buyerjourney
from buyerjourney.events import events_table_from_records
from buyerjourney.store import DuckDBStore
from conftest import SHARED

CASES = json.loads((SHARED / "conformance" / "funnel_cases.json").read_text())


def _memory(case):
    return case["events"]


def _store(case):
    store = DuckDBStore.open(":memory:")
    if case["events"]:
        store.append_events(events_table_from_records(case["events"]))
    store.refresh()
    return store


BACKENDS = {"memory": _memory, "duckdb": _store}


def test_the_file_holds_every_topic():
    topics = {c["id"].split("-")[0] for c in CASES}
    assert {"ch", "basic", "strict", "unord", "within", "opt", "excl", "repeat", "props", "invalid"} <= topics
    assert len(CASES) >= 100


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_case(case, backend):
    source = BACKENDS[backend](case)
    expected = case["expected"]
    if "error" in expected:
        with pytest.raises(ValueError):
            buyerjourney.funnel(source, **case["funnel"])
        return
    result = buyerjourney.funnel(source, **case["funnel"])
    assert dict(result.levels) == expected["levels"]
    assert list(result.counts) == expected["counts"]
    assert sorted(result.excluded) == expected.get("excluded", [])
    if "conversions" in expected:
        assert dict(result.conversions) == expected["conversions"]
    steps = result.to_dict()["steps"]
    assert [s["count"] for s in steps] == expected["counts"]
    assert [s["name"] for s in steps] == [result.query.steps[i].label for i in range(len(steps))]


def test_invalid_cases_raise_query_errors_naming_the_rule():
    words = {"invalid-01": "within", "invalid-02": "exclusions", "invalid-03": "optional",
             "invalid-04": "steps' events", "invalid-05": "from_step < to_step", "invalid-06": "1 to 32",
             "invalid-07": "negative", "invalid-08": "unknown order"}
    for case in CASES:
        key = case["id"][:10]
        if key in words:
            with pytest.raises(buyerjourney.QueryError, match=words[key]):
                buyerjourney.funnel(case["events"], **case["funnel"])
