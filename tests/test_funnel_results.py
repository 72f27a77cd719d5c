"""What is read off the per-entity funnel result: counts, conversion, times, breakdowns, trends, revenue, lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

import buyerjourney
from buyerjourney import QueryError
from buyerjourney.engine import FunnelQuery, run_kernel_on_batch, run_kernel_on_batches
from conftest import journeys_for, load_events

SHOP = {
    "ann": [("visit", "0d", {"source": "ads"}), ("signup", "1h"), ("purchase", "2d", {"revenue": 120})],
    "bob": [("visit", "0d", {"source": "seo"}), ("signup", "3h")],
    "cid": [("visit", "1d", {"source": "ads"}), ("signup", "1d2h"), ("purchase", "1d6h", {"revenue": 80.5})],
    "dan": [("visit", "8d", {"source": "mail"})],
    "eve": [("signup", "0d"), ("purchase", "1d", {"revenue": "lots"})],
}
STEPS = ["visit", "signup", "purchase"]


@pytest.fixture
def shop():
    return journeys_for(SHOP)


def test_counts_conversion_and_median_times(shop):
    result = buyerjourney.funnel(shop, steps=STEPS, window="7d")
    assert result.counts == [4, 3, 2]
    assert result.levels == {"ann": 3, "bob": 2, "cid": 3, "dan": 1, "eve": 0}
    rows = result.to_dict()["steps"]
    assert [r["conversion_from_previous"] for r in rows] == [None, 0.75, pytest.approx(2 / 3)]
    assert [r["conversion_from_first"] for r in rows] == [1.0, 0.75, 0.5]
    # signup after visit: ann 1h, bob 3h, cid 2h -> median 2h; purchase after signup: 47h and 4h
    assert rows[1]["median_seconds_from_previous"] == 7200
    assert rows[2]["median_seconds_from_previous"] == (47 + 4) / 2 * 3600
    assert rows[0]["median_seconds_from_previous"] is None
    assert result.conversion_rate == 0.5


def test_time_to_convert_stats_and_histogram(shop):
    stats = buyerjourney.funnel(shop, steps=STEPS, window="7d").time_to_convert()
    assert stats.count == 2
    assert stats.mean == (48 + 6) / 2 * 3600
    assert sum(b.count for b in stats.histogram) == 2
    edges = [(b.start_seconds, b.end_seconds) for b in stats.histogram]
    assert all(a < b for a, b in edges) and edges[0][0] <= 6 * 3600 and edges[-1][1] >= 48 * 3600
    assert "–" in stats.histogram[0].label


def test_histogram_spanning_minutes_to_months_uses_growing_round_edges():
    import numpy as np

    from buyerjourney.engine.readoffs import nice_histogram

    bins = nice_histogram(np.array([30.0, 600, 4000, 90000, 2_000_000, 9_000_000]))
    assert sum(b.count for b in bins) == 6
    widths = [b.end_seconds - b.start_seconds for b in bins]
    assert widths[-1] > 100 * widths[0]


def test_breakdown_with_attribution(shop):
    result = buyerjourney.funnel(shop, steps=STEPS, window="7d")
    first = {r.value: r.counts for r in result.breakdown("source")}
    assert first == {"ads": [2, 2, 2], "seo": [1, 1, 0], "mail": [1, 0, 0]}
    top = result.breakdown("source", top=1)
    assert [r.value for r in top] == ["ads", "(other)"] and top[1].counts == [2, 1, 0]
    last = {r.value: r.counts for r in result.breakdown("revenue", attribution="last")}
    assert last == {"(none)": [2, 1, 0], "120": [1, 1, 1], "80.5": [1, 1, 1]}
    step3 = {r.value: r.counts for r in result.breakdown("revenue", attribution="step:3")}
    assert step3["(none)"] == [2, 1, 0]
    with pytest.raises(QueryError, match="attribution"):
        result.breakdown("source", attribution="middle")
    with pytest.raises(QueryError, match="step must be"):
        result.breakdown("source", attribution="step:9")


def test_trends_flag_periods_whose_window_is_still_open(shop):
    result = buyerjourney.funnel(shop, steps=STEPS, window="7d")
    rows = result.trends("week", as_of=datetime(2024, 1, 20, tzinfo=UTC))
    # 2024-01-01 is a Monday: ann, bob, cid entered that week, dan the next one
    assert [(r.period, r.entered, r.converted) for r in rows] == [("2024-01-01", 3, 2), ("2024-01-08", 1, 0)]
    assert [r.complete for r in rows] == [True, False]  # 2024-01-15 + 7d > 2024-01-20
    default = result.trends("day")  # as of the latest event: nothing after it has closed
    assert default[-1].complete is False and sum(r.entered for r in default) == 4
    with pytest.raises(QueryError, match="day, week or month"):
        result.trends("year")


def test_revenue_per_step_sums_numbers_only(shop):
    rows = buyerjourney.funnel(shop, steps=STEPS, window="7d").revenue("revenue")
    assert (rows[2].events, rows[2].total, rows[2].average) == (2, 200.5, 100.25)
    assert (rows[0].events, rows[0].total, rows[0].average) == (0, 0.0, None)


def test_reached_and_dropped_lists_are_paged(shop):
    result = buyerjourney.funnel(shop, steps=STEPS, window="7d")
    assert result.reached(2) == ["ann", "bob", "cid"]
    assert result.dropped(2) == ["dan"]
    assert result.dropped(3) == ["bob"]
    assert result.reached(1, limit=2, offset=1) == ["bob", "cid"]
    assert result.entities_csv(result.dropped(3)) == "entity_id\nbob\n"
    with pytest.raises(QueryError):
        result.dropped(1)
    with pytest.raises(QueryError):
        result.reached(4)


def test_per_entity_table(shop):
    table = buyerjourney.funnel(shop, steps=STEPS, window="7d").table
    assert table.column_names == ["entity_id", "level", "excluded", "conversions", "step_ts", "step_event_id"]
    rows = {r["entity_id"]: r for r in table.to_pylist()}
    assert rows["ann"]["step_event_id"] == ["ann-0", "ann-1", "ann-2"]
    assert rows["bob"]["step_event_id"] == ["bob-0", "bob-1", None]
    assert rows["eve"]["step_ts"] == [None, None, None]
    assert rows["cid"]["step_ts"][0] == datetime(2024, 1, 2, tzinfo=UTC)


def test_to_dict_is_json_and_carries_extra_sections(shop):
    result = buyerjourney.funnel(shop, steps=STEPS, window="7d")
    doc = json.loads(json.dumps(result.to_dict(trend=[r.to_dict() for r in result.trends("week")])))
    assert set(doc) >= {"steps", "query", "entities", "excluded", "conversion_rate", "time_to_convert", "trend"}
    assert doc["steps"][0] == {"step": 1, "name": "visit", "count": 4, "conversion_from_previous": None,
                               "conversion_from_first": 1.0, "median_seconds_from_previous": None,
                               "mean_seconds_from_previous": None, "p90_seconds_from_previous": None,
                               "optional": False}


def test_store_and_memory_agree_on_every_read_off(store, shop):
    load_events(store, shop)
    from_store = buyerjourney.funnel(store, steps=STEPS, window="7d")
    in_memory = buyerjourney.funnel(shop, steps=STEPS, window="7d")
    assert from_store.to_dict() == in_memory.to_dict()
    assert from_store.table.equals(in_memory.table)
    assert from_store.breakdown("source") == in_memory.breakdown("source")
    assert from_store.revenue() == in_memory.revenue()
    assert from_store.trends("day") == in_memory.trends("day")


def test_store_scan_carries_entities_across_batches(store):
    events = journeys_for({f"u{i:02d}": [("visit", "0d"), ("noise", "1m"), ("signup", f"{i}h"),
                                         ("purchase", f"{i + 1}h")] for i in range(12)})
    load_events(store, events)
    expected = buyerjourney.funnel(events, steps=STEPS, window="8h")
    for batch_size in (1, 3, 5, 1000):
        got = buyerjourney.funnel(store, steps=STEPS, window="8h", batch_size=batch_size)
        assert got.levels == expected.levels and got.counts == expected.counts
        assert got.table.equals(expected.table)


def test_strict_needs_the_events_outside_the_funnel(store):
    events = journeys_for({"ann": [("visit", "0d"), ("noise", "1m"), ("signup", "2m")],
                           "bob": [("visit", "0d"), ("signup", "2m")]})
    load_events(store, events)
    assert buyerjourney.funnel(store, steps=["visit", "signup"], order="strict").levels == {"ann": 1, "bob": 2}


def test_where_operators_are_typed():
    events = journeys_for({
        "a": [("buy", "0d", {"plan": "pro", "qty": 2})],
        "b": [("buy", "0d", {"plan": "team", "qty": "2"})],
        "c": [("buy", "0d", {"qty": 5.5})],
        "d": [("buy", "0d", {"plan": None})],
    })

    def who(where):
        result = buyerjourney.funnel(events, steps=[{"event": "buy", "where": where}])
        return sorted(e for e, level in result.levels.items() if level)

    assert who({"qty": 2}) == ["a"]
    assert who({"qty": "2"}) == ["b"]
    assert who({"qty": {"gt": 2}}) == ["c"]
    assert who({"plan": {"ne": "pro"}}) == ["b", "d"]  # missing never matches, null is a value
    assert who({"plan": {"in": ["pro", "team"]}}) == ["a", "b"]
    assert who({"plan": {"contains": "ea"}}) == ["b"]
    assert who({"plan": {"eq": None}}) == ["d"]
    assert who({"plan": {"not_in": ["pro"]}}) == ["b", "d"]
    with pytest.raises(QueryError, match="unknown operator"):
        who({"plan": {"like": "p%"}})
    with pytest.raises(QueryError, match="in"):
        who({"plan": ["pro"]})


def test_dataframe_and_arrow_inputs(shop):
    import pandas as pd

    expected = buyerjourney.funnel(shop, steps=STEPS, window="7d").levels
    frame = pd.DataFrame(shop)
    assert buyerjourney.funnel(frame, steps=STEPS, window="7d").levels == expected
    from buyerjourney.events import events_table_from_records

    assert buyerjourney.funnel(events_table_from_records(shop), steps=STEPS, window="7d").levels == expected


def test_optional_and_exclusion_results():
    events = journeys_for({"ann": [("visit", "0d"), ("demo", "1h"), ("buy", "2h")],
                           "bob": [("visit", "0d"), ("buy", "2h")],
                           "cid": [("visit", "0d"), ("refund", "1h"), ("buy", "2h")]})
    result = buyerjourney.funnel(events, steps=["visit", {"event": "demo", "optional": True}, "buy"], window="1d",
                                 exclusions=[{"event": "refund", "from_step": 1, "to_step": 3}])
    assert result.counts == [2, 1, 2] and result.excluded == ["cid"]
    assert result.to_dict()["steps"][1]["optional"] is True
    assert result.dropped(3) == []  # bob skipped the optional step and still bought


def test_unordered_chain_is_listed_per_level():
    events = journeys_for({"u": [("c", "0s"), ("a", "1s"), ("b", "5s")]})
    result = buyerjourney.funnel(events, steps=["a", "b", "c"], window="10s", order="unordered")
    assert result.table.column("step_event_id").to_pylist() == [["u-0", "u-1", "u-2"]]


def test_batch_api_matches_and_carries_over(shop):
    from buyerjourney.events import events_table_from_records

    query = FunnelQuery.build(STEPS, window="7d")
    table = events_table_from_records(shop).sort_by([("entity_id", "ascending"), ("ts", "ascending")])
    table = table.append_column("row_id", pa.array(range(table.num_rows), pa.int64()))
    whole = run_kernel_on_batch(table, query)
    assert dict(zip(whole.column("entity").to_pylist(), whole.column("level").to_pylist(), strict=True)) == \
        buyerjourney.funnel(shop, steps=STEPS, window="7d").levels
    pieces = pa.Table.from_batches(list(run_kernel_on_batches(table.to_batches(max_chunksize=2), query)))
    assert pieces.sort_by("entity").equals(pa.Table.from_batches([whole]).sort_by("entity"))
    masks = table.append_column("step_mask", pa.array([1 if e == "visit" else 2 if e == "signup" else
                                                       4 if e == "purchase" else 0
                                                       for e in table.column("event").to_pylist()], pa.uint32()))
    by_mask = run_kernel_on_batch(masks.drop_columns(["event"]), query)
    assert by_mask.column("level").equals(whole.column("level"))


def test_result_errors_are_query_errors(shop):
    result = buyerjourney.funnel(shop, steps=STEPS, window="7d")
    with pytest.raises(QueryError):
        result.time_to_convert(step=1, from_step=1)
    with pytest.raises(QueryError):
        result.reached(1, limit=-1)
    with pytest.raises(ValueError):
        buyerjourney.funnel(shop, steps=STEPS, window="7 days")


def test_an_entity_with_many_open_chains_grows_the_workspace():
    import funnel_oracle

    events = [{"entity_id": "bot", "event": "A", "ts": 1_700_000_000 + i, "event_id": f"a{i:03d}"} for i in range(150)]
    events += [{"entity_id": "bot", "event": "B", "ts": 1_700_000_000 + 100 + 7 * i, "event_id": f"b{i:03d}"}
               for i in range(30)]
    funnel = {"steps": ["A", {"event": "B", "within": "40s"}, "A"], "window": "1h", "order": "ordered"}
    expected = funnel_oracle.run(events, **funnel)
    result = buyerjourney.funnel(events, **funnel)
    assert result.levels == expected.levels and result.conversions == expected.conversions
    assert result.table.column("step_event_id").to_pylist() == [expected.entities["bot"].chain_ids]


def test_warm_up_runs_every_kernel_path():
    from buyerjourney.engine.warmup import _FUNNELS, warm_up

    assert warm_up() >= 0
    assert {spec.get("order", "ordered") for spec in _FUNNELS} == {"ordered", "strict", "unordered"}
