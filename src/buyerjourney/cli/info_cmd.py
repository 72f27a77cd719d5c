"""``buyerjourney info``: what a store holds."""

from __future__ import annotations

from dataclasses import asdict

from buyerjourney.cli.app import DbOption, FormatOption, OutputFormat, app, emit, opened_store


@app.command()
def info(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """Show what is in a store: events, entities, event names, identity links, spend.

    Example:

        buyerjourney info --db shop.duckdb --format json
    """
    with opened_store(db, read_only=True) as store:
        facts = store.info()
    if fmt is OutputFormat.json:
        emit([], fmt, document=asdict(facts))
        return
    rows = [
        {"what": "store", "value": facts.path},
        {"what": "schema version", "value": facts.schema_version},
        {"what": "events", "value": facts.events},
        {"what": "entities", "value": facts.entities},
        {"what": "identified entities", "value": facts.identified_entities},
        {"what": "first event", "value": facts.first_ts},
        {"what": "last event", "value": facts.last_ts},
        {"what": "identity links", "value": facts.identity_links},
        {"what": "identity conflicts", "value": facts.identity_conflicts},
        {"what": "spend rows", "value": facts.spend_rows},
        {"what": "spend total", "value": facts.spend_total},
    ] + [{"what": f"event: {name}", "value": n} for name, n in facts.event_counts.items()]
    emit(rows, fmt, title="buyerjourney store")
