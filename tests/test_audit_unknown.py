"""Where the data cannot answer, the answer is `unknown` and says exactly what to start tracking."""

from __future__ import annotations

import pytest

from audit_support import audit, config, many, question

VISITS = many("v", 5, [("visit", "1d", {"source": "ads"})])
LEADS = many("l", 5, [("visit", "1d", {"source": "ads"}), ("optin", "2d")])
CUSTOMERS = many("c", 5, [("optin", "2d", {"source": "ads"}), ("purchase", "9d", {"revenue": 10})])
NO_SOURCE = many("n", 5, [("optin", "2d"), ("purchase", "9d", {"revenue": 10})])

CASES = {
    1: (NO_SOURCE, {"1.1": "`source`", "1.2": "`visit`", "1.3": "`source`"}),
    2: (VISITS, {"2.1": "`optin`", "2.2": "`optin`", "2.3": "`capture`"}),
    3: (LEADS, {"3.1": "`purchase`", "3.2": "`purchase`", "3.3": "`purchase`"}),
    4: (LEADS, {"4.1": "`lead_type`", "4.2": "`purchase`", "4.3": "`purchase`"}),
    5: (CUSTOMERS, {"5.1": "`thank_you`", "5.2": "`testimonial`", "5.3": "`refund`"}),
    6: (CUSTOMERS, {"6.1": "`upsell_offer`", "6.2": "`upsell_purchase`", "6.3": "`upsell_purchase`"}),
    7: (CUSTOMERS, {"7.1": "`referral_request`", "7.2": "`referrer_id`", "7.3": "`referrer_id`"}),
}


@pytest.mark.parametrize("stage", sorted(CASES))
def test_each_stage_says_what_to_track_when_its_events_are_missing(store, stage):
    journeys, expected = CASES[stage]
    doc = audit(store, journeys, as_of=60)
    for qid, words in expected.items():
        q = question(doc, qid)
        assert q["status"] == "unknown", (qid, q["answer"])
        assert q["value"] is None
        assert words in q["track"], (qid, q["track"])
        assert q["answer"].startswith("Unknown: ") and "Start tracking " + q["track"] in q["answer"]
        assert q["how"]


def test_the_track_text_uses_the_business_own_event_names(store):
    journey = config(events={"wow": ["gift_sent", "thank_you_call"], "testimonial": "review_posted"})
    doc = audit(store, CUSTOMERS, as_of=60, journey=journey)
    assert "`gift_sent` or `thank_you_call`" in question(doc, "5.1")["track"]
    assert "`review_posted`" in question(doc, "5.2")["track"]


def test_answers_are_never_bare_numbers(store):
    journeys = CUSTOMERS | LEADS | VISITS
    doc = audit(store, journeys, as_of=60)
    assert [s["id"] for s in doc["stages"]] == list(range(1, 8))
    ids = [q["id"] for s in doc["stages"] for q in s["questions"]]
    assert ids == [f"{s}.{n}" for s in range(1, 8) for n in range(1, 4)]
    for stage in doc["stages"]:
        for q in stage["questions"]:
            assert q["answer"] and q["how"], q["id"]
            if q["status"] == "answered":
                assert any(ch.isdigit() for ch in q["how"]), q["id"]  # the counts used are shown
            else:
                assert q["track"], q["id"]


def test_an_empty_store_is_an_error(store):
    from buyerjourney.analysis import run_audit
    from buyerjourney.errors import NotFoundError

    with pytest.raises(NotFoundError, match="holds no events"):
        run_audit(store)


def test_a_store_with_none_of_the_mapped_events_answers_nothing_and_ranks_nothing(store):
    doc = audit(store, many("x", 3, [("page_view", "1d", {"source": "ads"}), ("signup", "2d")]), as_of=30)
    assert {q["status"] for s in doc["stages"] for q in s["questions"]} == {"unknown"}
    assert doc["leaks"] == [] and doc["charts"]["journey"] == [] and doc["charts"]["cohort_curves"] == []
    mapped = audit(store, {}, as_of=30, journey=config(events={"visit": ["page_view"], "optin": ["signup"]}))
    assert question(mapped, "1.1")["status"] == "answered" and question(mapped, "2.1")["status"] == "unknown"
    assert [row["stage"] for row in mapped["charts"]["journey"]] == ["Visitors", "Leads"]


def test_an_unrefreshed_store_is_refused_by_the_library_and_refreshed_by_the_cli(store, capsys):
    from buyerjourney.analysis import run_audit
    from buyerjourney.cli import main
    from buyerjourney.errors import StoreError
    from buyerjourney.events import events_table_from_records
    from conftest import journeys_for

    store.append_events(events_table_from_records(journeys_for(CUSTOMERS)))
    with pytest.raises(StoreError, match="refresh"):
        run_audit(store)
    path = store.path
    store.close()
    with pytest.raises(SystemExit) as done:
        main(["audit", "--db", path, "--format", "csv"])
    assert done.value.code == 0 and len(capsys.readouterr().out.splitlines()) > 21
