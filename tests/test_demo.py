"""The demo business: seeded, schema-true, and carrying the leaks it claims to carry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from buyerjourney.demo import EVENT_NAMES, PLANTED_LEAKS, DemoData, DemoGenerator, generate
from buyerjourney.demo import generator as generator_module
from buyerjourney.demo.business import BUSINESS, CAPTURES, END, SOURCES
from buyerjourney.demo.output import fresh_demo_store, load_demo, write_demo
from buyerjourney.demo.summary import summarize
from buyerjourney.errors import InputError
from buyerjourney.events import EVENT_SCHEMA, SPEND_SCHEMA, events_table_from_records
from buyerjourney.store import DuckDBStore

LEADS, SEED = 12_000, 7
START = END - timedelta(days=731)
MONTH = timedelta(days=30.44)

#: Properties every event of a kind carries (the fixed vocabulary the journey config and audit use).
REQUIRED = {
    "visit": {"source", "page", "capture", "product"},
    "optin": {"capture", "product", "source", "lead_type", "company_size", "industry", "role"},
    "email_sent": {"campaign"}, "email_open": {"campaign"}, "email_click": {"campaign"},
    "sales_call": {"lead_type", "outcome"},
    "demo_request": {"product"},
    "purchase": {"product", "revenue", "currency", "lead_type"},
    "refund": {"product", "revenue", "amount", "currency"},
    "return": {"product"}, "complaint": {"product"}, "testimonial": {"product"},
    "thank_you": {"kind"},
    "upsell_offer": {"product"},
    "upsell_purchase": {"product", "revenue", "currency"},
    "referral_request": {"product"},
}


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(LEADS, SEED)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = fresh_demo_store(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    load_demo(store, LEADS, SEED)
    try:
        yield store
    finally:
        store.close()


def rows(store: DuckDBStore, sql: str, params: list | None = None) -> list[dict]:
    return store.query(sql, params).to_pylist()


def leak(leak_id: str):
    return next(item for item in PLANTED_LEAKS if item.id == leak_id)


# -- determinism and the data contract --------------------------------------------------------------
def test_same_seed_gives_identical_output():
    first, second = generate(2000, 11), generate(2000, 11)
    assert first.events.equals(second.events)
    assert first.spend.equals(second.spend)
    assert first.truth.equals(second.truth)


def test_different_seeds_give_different_businesses():
    first, second = generate(2000, 11), generate(2000, 12)
    assert not first.events.equals(second.events)
    assert not first.spend.equals(second.spend)
    assert first.events.column("event_id")[0].as_py() != second.events.column("event_id")[0].as_py()


def test_events_follow_the_schema(data):
    events = data.events
    assert events.schema.equals(EVENT_SCHEMA)
    assert pc.count_distinct(events.column("event_id")).as_py() == events.num_rows
    assert pc.min(events.column("ts")).as_py() >= START
    assert pc.max(events.column("ts")).as_py() < END
    assert set(pc.unique(events.column("event")).to_pylist()) == set(EVENT_NAMES)
    assert events.column("account_id").null_count == events.num_rows


def test_every_event_carries_its_properties(data):
    events = data.events
    for name, required in REQUIRED.items():
        texts = events.filter(pc.equal(events.column("event"), name)).column("properties").to_pylist()
        assert texts, name
        for text in texts:
            props = json.loads(text)
            assert required <= props.keys(), (name, props)
            if "revenue" in props:
                assert isinstance(props["revenue"], float | int) and props["currency"] == "USD"
            if name == "visit":
                assert props["source"] in SOURCES and props["capture"] in CAPTURES
                assert ("campaign" in props) == (props["source"] in ("paid_search", "social"))
            if name == "refund":
                assert props["revenue"] == -props["amount"] < 0


def test_chunks_keep_ids_unique(monkeypatch):
    monkeypatch.setattr(generator_module, "CHUNK_LEADS", 700)
    generator = DemoGenerator(2000, 5)
    batches = list(generator.batches())
    assert len(batches) == generator.chunks == 3
    events = pa.concat_tables(batches)
    assert pc.count_distinct(events.column("event_id")).as_py() == events.num_rows
    optins = events.filter(pc.equal(events.column("event"), "optin"))
    assert pc.count_distinct(optins.column("entity_id")).as_py() == optins.num_rows
    assert pc.count_distinct(optins.column("anonymous_id")).as_py() == optins.num_rows
    truth = generator.truth()
    assert truth.num_rows == optins.num_rows == 2000 + generator.referred_leads


def test_bad_sizes_are_refused():
    for leads in (0, -5, True, 2.5):
        with pytest.raises(InputError, match="leads"):
            DemoGenerator(leads, 1)
    with pytest.raises(InputError, match="seed"):
        DemoGenerator(10, -1)
    generator = DemoGenerator(10, 1)
    with pytest.raises(InputError, match="spend"):
        generator.spend()


# -- identity and referrals --------------------------------------------------------------------------
def test_visits_are_anonymous_and_every_optin_links_earlier_visits(data):
    events = data.events
    visits = events.filter(pc.equal(events.column("event"), "visit"))
    assert visits.column("entity_id").null_count == visits.num_rows
    assert visits.column("anonymous_id").null_count == 0
    optins = events.filter(pc.equal(events.column("event"), "optin"))
    assert optins.column("anonymous_id").null_count == 0 and optins.column("entity_id").null_count == 0
    first_visit = {row["anonymous_id"]: row["ts_min"] for row in
                   visits.group_by("anonymous_id").aggregate([("ts", "min")]).to_pylist()}
    for anonymous_id, ts in zip(optins.column("anonymous_id").to_pylist(), optins.column("ts").to_pylist(),
                                strict=True):
        assert first_visit[anonymous_id] <= ts


def test_identity_gives_the_visits_to_the_lead(loaded):
    (facts,) = rows(loaded, """
        WITH leads AS (SELECT DISTINCT entity_key FROM events WHERE event = 'optin')
        SELECT count(*) AS leads,
               count(*) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM events v WHERE v.entity_key = leads.entity_key AND v.event = 'visit')) AS no_visit
        FROM leads""")
    assert facts["leads"] > LEADS and facts["no_visit"] == 0
    (links,) = rows(loaded, "SELECT count(*) AS n FROM identity_conflicts")
    assert links["n"] == 0


def test_referrals_come_from_earlier_customers(loaded):
    referred = rows(loaded, """
        SELECT o.entity_id, o.properties->>'referrer_id' AS referrer, o.properties->>'source' AS source, o.ts,
               (SELECT min(p.ts) FROM events p WHERE p.event = 'purchase'
                AND p.entity_id = o.properties->>'referrer_id') AS referrer_bought
        FROM events o WHERE o.event = 'optin' AND o.properties->>'referrer_id' IS NOT NULL""")
    assert len(referred) >= 10
    for row in referred:
        assert row["source"] == "referral"
        assert row["referrer"] != row["entity_id"]
        assert row["referrer_bought"] is not None and row["referrer_bought"] < row["ts"], row


# -- the planted leaks ---------------------------------------------------------------------------------
def test_social_brings_many_leads_but_the_fewest_sales(loaded):
    by_source = {row["source"]: row for row in rows(loaded, """
        WITH leads AS (SELECT entity_key, properties->>'source' AS source FROM events WHERE event = 'optin'),
             buyers AS (SELECT DISTINCT entity_key FROM events WHERE event = 'purchase')
        SELECT source, count(*) AS leads, count(b.entity_key) AS customers
        FROM leads LEFT JOIN buyers b USING (entity_key) GROUP BY source""")}
    subject = leak("social_leads_rarely_buy").subject
    rate = {source: row["customers"] / row["leads"] for source, row in by_source.items()}
    others = [r for source, r in rate.items() if source != subject]
    assert rate[subject] < 0.5 * min(others)
    assert by_source[subject]["leads"] == max(row["leads"] for row in by_source.values())


def test_webinar_has_a_poor_optin_rate(loaded):
    rate = {row["capture"]: row["optins"] / row["visitors"] for row in rows(loaded, """
        WITH exposed AS (SELECT properties->>'capture' AS capture, count(DISTINCT anonymous_id) AS visitors
                         FROM events WHERE event = 'visit' GROUP BY ALL),
             optins AS (SELECT properties->>'capture' AS capture, count(*) AS optins
                        FROM events WHERE event = 'optin' GROUP BY ALL)
        SELECT * FROM exposed JOIN optins USING (capture)""")}
    planted = leak("webinar_poor_optin")
    assert rate[planted.subject] == pytest.approx(planted.intended, abs=0.015)
    assert min(r for capture, r in rate.items() if capture != planted.subject) >= planted.baseline - 0.02
    assert rate[planted.subject] < 0.5 * min(r for capture, r in rate.items() if capture != planted.subject)


def test_coaching_is_refunded_far_more_often(loaded):
    rate = {row["product"]: row["refunded"] / row["customers"] for row in rows(loaded, """
        WITH bought AS (SELECT entity_key, properties->>'product' AS product FROM events WHERE event = 'purchase'),
             refunded AS (SELECT DISTINCT entity_key FROM events WHERE event = 'refund')
        SELECT product, count(*) AS customers, count(r.entity_key) AS refunded
        FROM bought LEFT JOIN refunded r USING (entity_key) GROUP BY product""")}
    planted = leak("coaching_refunds")
    others = [r for product, r in rate.items() if product != planted.subject]
    assert rate[planted.subject] == pytest.approx(planted.intended, abs=0.08)
    assert max(others) < 0.1 and rate[planted.subject] > 2.5 * max(others)


def test_few_customers_get_wow_touches_upsell_offers_or_referral_requests(loaded):
    (shares,) = rows(loaded, """
        WITH customers AS (SELECT DISTINCT entity_key FROM events WHERE event = 'purchase')
        SELECT count(*) AS customers,
          count(*) FILTER (WHERE entity_key IN (SELECT entity_key FROM events WHERE event = 'thank_you')) AS thank_you,
          count(*) FILTER (WHERE entity_key IN (SELECT entity_key FROM events WHERE event = 'upsell_offer'))
            AS upsell_offer,
          count(*) FILTER (WHERE entity_key IN (SELECT entity_key FROM events WHERE event = 'upsell_purchase'))
            AS upsell_purchase,
          count(*) FILTER (WHERE entity_key IN (SELECT entity_key FROM events WHERE event = 'referral_request'))
            AS referral_request
        FROM customers""")
    for leak_id in ("few_wow_touches", "few_upsell_offers", "few_referral_requests"):
        planted = leak(leak_id)
        share = shares[planted.subject] / shares["customers"]
        assert 0 < share <= planted.intended + 0.03 < planted.baseline, (leak_id, share)
    assert shares["upsell_purchase"] / shares["upsell_offer"] > 0.2  # the few offers made do sell


def test_a_wow_touch_means_fewer_refunds(loaded):
    rate = {row["wowed"]: row["refunded"] / row["customers"] for row in rows(loaded, """
        WITH customers AS (SELECT DISTINCT entity_key FROM events WHERE event = 'purchase')
        SELECT entity_key IN (SELECT entity_key FROM events WHERE event = 'thank_you') AS wowed, count(*) AS customers,
               count(*) FILTER (WHERE entity_key IN (SELECT entity_key FROM events WHERE event = 'refund')) AS refunded
        FROM customers GROUP BY ALL""")}
    assert rate[True] < rate[False]


def test_every_planted_leak_is_documented_and_named_once():
    doc = generator_module.__doc__ or ""
    ids = [item.id for item in PLANTED_LEAKS]
    assert len(ids) == len(set(ids)) >= 4
    for item in PLANTED_LEAKS:
        assert f"``{item.id}``" in doc
        assert 1 <= item.stage <= 7 and item.how


# -- buyers take time -----------------------------------------------------------------------------------
def test_most_buyers_buy_three_to_eighteen_months_after_optin(loaded):
    (shape,) = rows(loaded, """
        WITH optin AS (SELECT entity_key, min(ts) AS t FROM events WHERE event = 'optin' GROUP BY ALL),
             bought AS (SELECT entity_key, min(ts) AS t FROM events WHERE event = 'purchase' GROUP BY ALL)
        SELECT count(*) AS buyers,
               count(*) FILTER (WHERE b.t - o.t BETWEEN ?::INTERVAL AND ?::INTERVAL) AS three_to_eighteen
        FROM bought b JOIN optin o USING (entity_key)""", [timedelta(days=91), timedelta(days=548)])
    assert shape["three_to_eighteen"] / shape["buyers"] > 0.6


def test_about_half_of_eventual_buyers_buy_within_eighteen_months(data):
    buyers = data.truth.filter(data.truth.column("eventual_buyer"))
    delay = pc.subtract(buyers.column("purchase_ts"), buyers.column("optin_ts")).to_pylist()
    within = sum(d <= 18 * MONTH for d in delay) / len(delay)
    assert 0.4 <= within <= 0.6
    late = sum(d > 24 * MONTH for d in delay)
    assert late > 0.2 * len(delay)  # many buy after two years: the history cannot show them yet


def test_the_events_show_exactly_the_purchases_made_before_the_end(data):
    truth = data.truth
    seen = truth.filter(pc.and_(truth.column("eventual_buyer"), pc.less(truth.column("purchase_ts"), END)))
    purchases = data.events.filter(pc.equal(data.events.column("event"), "purchase"))
    assert sorted(purchases.column("entity_id").to_pylist()) == sorted(seen.column("entity_id").to_pylist())
    assert truth.num_rows == data.events.filter(pc.equal(data.events.column("event"), "optin")).num_rows


# -- spend, store, summary and files ---------------------------------------------------------------------
def test_spend_is_monthly_per_paid_campaign(data):
    spend = data.spend
    assert spend.schema.equals(SPEND_SCHEMA)
    assert set(spend.column("source").to_pylist()) == {"paid_search", "social", "email"}
    assert pc.min(spend.column("amount")).as_py() > 0
    assert {d.day for d in spend.column("date").to_pylist()} == {1}
    assert len(set(spend.column("date").to_pylist())) == 24
    social = pc.sum(spend.filter(pc.equal(spend.column("source"), "social")).column("amount")).as_py()
    clicks = data.events.filter(pc.and_(pc.equal(data.events.column("event"), "visit"),
                                        pc.match_substring(data.events.column("properties"), '"source": "social"')))
    cpc = BUSINESS.source("social").cost_per_click
    assert social == pytest.approx(clicks.num_rows * cpc, rel=0.02)


def test_the_store_holds_what_was_generated_and_the_summary_counts_it(data, loaded):
    info = loaded.info()
    assert info.events == data.events.num_rows
    assert info.spend_rows == data.spend.num_rows
    summary = summarize(loaded)
    counts = {(s.stage, s.measure): s.count for s in summary.stages}
    events = data.events

    def entities(name: str) -> int:
        return pc.count_distinct(events.filter(pc.equal(events.column("event"), name)).column("entity_id")).as_py()

    visitors = pc.count_distinct(events.filter(pc.equal(events.column("event"), "visit")).column("anonymous_id"))
    assert counts[1, "visitors"] == visitors.as_py()
    assert counts[2, "leads"] == entities("optin") == data.truth.num_rows
    assert counts[3, "nurtured leads"] == entities("email_sent")
    assert counts[4, "customers"] == entities("purchase")
    assert counts[5, "customers with a wow touch"] == entities("thank_you")
    assert counts[5, "refunded customers"] == entities("refund")
    assert counts[6, "upsell buyers"] == entities("upsell_purchase")
    assert counts[7, "referred leads"] == pc.sum(data.truth.column("referred")).as_py()
    assert {s.name for s in summary.stages} == {"Traffic", "Lead capture", "Prospect follow-up", "Sales", "Delivery",
                                                "Upsell", "Referral"}
    assert summary.entities == info.entities and summary.events == info.events
    assert json.loads(json.dumps(summary.to_dict(), default=str))["stages"][0]["count"] == visitors.as_py()


def test_write_parquet_and_spend_csv(tmp_path: Path):
    result = write_demo(tmp_path / "demo.parquet", 1500, 3, spend_out=tmp_path / "spend.csv")
    expected = generate(1500, 3)
    assert pq.read_table(tmp_path / "demo.parquet").equals(expected.events)
    assert result.events == expected.events.num_rows
    spend = pacsv.read_csv(tmp_path / "spend.csv")
    assert spend.num_rows == result.spend_rows == expected.spend.num_rows
    assert spend.column_names == SPEND_SCHEMA.names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.parquet", "spend.csv"]


def test_write_jsonl_round_trips_through_the_contract(tmp_path: Path):
    write_demo(tmp_path / "demo.jsonl", 800, 3, spend_out=tmp_path / "spend.jsonl")
    records = [json.loads(line) for line in (tmp_path / "demo.jsonl").read_text().splitlines()]
    expected = generate(800, 3).events
    assert len(records) == expected.num_rows
    assert isinstance(records[0]["properties"], dict) and records[0]["ts"].endswith("Z")
    table = events_table_from_records(records)
    assert table.equals(expected.select(table.column_names))
    spend = [json.loads(line) for line in (tmp_path / "spend.jsonl").read_text().splitlines()]
    assert spend[0].keys() == set(SPEND_SCHEMA.names) and isinstance(spend[0]["amount"], int | float)
    assert len(spend) == generate(800, 3).spend.num_rows


def test_write_refuses_an_unknown_extension_and_leaves_nothing(tmp_path: Path):
    with pytest.raises(InputError, match=r"\.txt.*\.jsonl"):
        write_demo(tmp_path / "demo.txt", 100, 1)
    with pytest.raises(InputError, match="spend"):
        write_demo(tmp_path / "demo.parquet", 100, 1, spend_out=tmp_path / "spend.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_fresh_store_replaces_a_demo_store_but_never_other_data(tmp_path: Path):
    path = tmp_path / "demo.duckdb"
    with fresh_demo_store(path) as store:
        load_demo(store, 300, 2)
    with fresh_demo_store(path) as store:
        assert store.info().events == 0
        store.append_events(events_table_from_records([{"entity_id": "ann", "event": "signup",
                                                        "ts": "2024-01-01T00:00:00Z"}]))
    with pytest.raises(InputError, match="not from the demo"):
        fresh_demo_store(path)
    with DuckDBStore.open(path) as store:
        assert store.info().events == 1


def test_loading_the_demo_twice_into_one_store_adds_nothing_the_second_time(tmp_path: Path):
    with DuckDBStore.open(tmp_path / "twice.duckdb") as store:
        first = load_demo(store, 300, 4)
        second = load_demo(store, 300, 4)
        assert first.events > 0 and second.events == 0
        assert store.info().events == first.events
