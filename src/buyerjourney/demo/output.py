"""Where the demo business goes: Parquet or JSON Lines files, or a (fresh) store."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from buyerjourney.demo.generator import DEFAULT_LEADS, DEFAULT_SEED, DemoGenerator
from buyerjourney.errors import InputError
from buyerjourney.events import EVENT_SCHEMA
from buyerjourney.store import DuckDBStore

#: ``progress(chunks_done, chunks_total)`` after each chunk of leads.
Progress = Callable[[int, int], None]
EVENT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SPEND_FORMATS = {**EVENT_FORMATS, ".csv": "csv"}
#: Event ids of the demo business (``demo{seed}-{n}``): a store holding only these may be replaced.
DEMO_EVENT_ID = r"^demo[0-9]+-[0-9]+$"


@dataclass(frozen=True)
class Generated:
    """What one run of the generator produced."""

    leads: int
    referred_leads: int
    events: int
    spend_rows: int
    seed: int


def _format(path: Path, formats: dict[str, str], what: str) -> str:
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: cannot tell the {what} format from the extension; use one of "
                         f"{', '.join(sorted(formats))}", field=what)
    return fmt


def write_demo(out: str | Path, leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, *,
               spend_out: str | Path | None = None, progress: Progress | None = None) -> Generated:
    """Write the demo business's events to ``out`` (Parquet or JSON Lines, by extension), spend to ``spend_out``.

    Files are written beside their target and renamed into place, so a failed run leaves no partial file.
    """
    out = Path(out)
    fmt = _format(out, EVENT_FORMATS, "events file")
    spend_path = Path(spend_out) if spend_out is not None else None
    spend_fmt = _format(spend_path, SPEND_FORMATS, "spend file") if spend_path else None
    generator = DemoGenerator(leads, seed)
    partial = out.with_name(out.name + ".partial")
    events = 0
    try:
        if fmt == "parquet":
            with pq.ParquetWriter(partial, EVENT_SCHEMA, compression="zstd") as writer:
                for done, batch in enumerate(generator.batches(), 1):
                    writer.write_table(batch)
                    events += batch.num_rows
                    if progress:
                        progress(done, generator.chunks)
        else:
            with open(partial, "wb") as handle:
                for done, batch in enumerate(generator.batches(), 1):
                    handle.write(_jsonl_bytes(batch))
                    events += batch.num_rows
                    if progress:
                        progress(done, generator.chunks)
        spend = generator.spend()
        if spend_path is not None and spend_fmt is not None:
            _write_table(spend, spend_path, spend_fmt)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return Generated(leads, generator.referred_leads, events, spend.num_rows, seed)


def _write_table(table: pa.Table, path: Path, fmt: str) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        if fmt == "parquet":
            pq.write_table(table, partial)
        elif fmt == "csv":
            pacsv.write_csv(table, partial)
        else:
            columns = [pc.binary_join_element_wise(f'"{name}":', _json_value(table.column(name)), "")
                       for name in table.column_names]
            line = pc.binary_join_element_wise("{", pc.binary_join_element_wise(*columns, ","), "}\n", "")
            partial.write_bytes(_string_bytes(line))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _json_value(column: pa.ChunkedArray) -> pa.Array:
    """JSON text of each value of a spend column (strings, dates and numbers; null as ``null``)."""
    array = column.combine_chunks()
    if pa.types.is_string(array.type) or pa.types.is_date(array.type):
        text = pc.binary_join_element_wise('"', pc.cast(array, pa.string()), '"', "")
    else:
        text = pc.cast(array, pa.string())
    return pc.coalesce(text, "null")


def _jsonl_bytes(batch: pa.Table) -> memoryview:
    """One JSON object per event (``properties`` as an object, absent ids left out), newline-terminated."""

    def optional(name: str) -> pa.Array:
        quoted = pc.binary_join_element_wise(f',"{name}":"', batch.column(name).combine_chunks(), '"', "")
        return pc.coalesce(quoted, "")

    # ISO-8601 in UTC; casting the zone-naive timestamps is ~10x faster than strftime
    naive = batch.column("ts").combine_chunks().cast(pa.timestamp("us"))
    ts = pc.replace_substring(pc.cast(naive, pa.string()), " ", "T", max_replacements=1)
    line = pc.binary_join_element_wise(
        '{"event_id":"', batch.column("event_id").combine_chunks(), '"', optional("entity_id"),
        optional("anonymous_id"), optional("account_id"), ',"event":"', batch.column("event").combine_chunks(),
        '","ts":"', ts, 'Z","properties":', pc.coalesce(batch.column("properties").combine_chunks(), "{}"), "}\n", "")
    return _string_bytes(line)


def _string_bytes(array: pa.Array) -> memoryview:
    """The concatenated bytes of a string array without nulls, without copying."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    wide = pa.types.is_large_string(array.type)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64 if wide else np.int32)
    start, stop = offsets[array.offset], offsets[array.offset + len(array)]
    return memoryview(array.buffers()[2])[start:stop]


def fresh_demo_store(path: str | Path) -> DuckDBStore:
    """Open an empty store at ``path``, replacing an earlier demo store there (and nothing else).

    A store that holds any event the demo did not write is refused, so a real store is never lost.
    """
    target = Path(path)
    if target.exists():
        with DuckDBStore.open(target) as old:
            foreign = old.query("SELECT count(*) AS n FROM events_raw WHERE NOT regexp_full_match(event_id, ?)",
                                [DEMO_EVENT_ID]).column("n")[0].as_py()
        if foreign:
            raise InputError(f"{target} holds {foreign:,} events that are not from the demo: the demo replaces "
                             f"its store, so pass another path (--db demo.duckdb)", field="db")
        target.unlink()
        Path(f"{target}.wal").unlink(missing_ok=True)
    return DuckDBStore.open(target)


def load_demo(store: DuckDBStore, leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, *,
              progress: Progress | None = None) -> Generated:
    """Generate the demo business into ``store`` chunk by chunk, add its spend, and refresh the store."""
    generator = DemoGenerator(leads, seed)
    # Into an empty store the demo's ids are new by construction, so the duplicate check can be skipped.
    empty = store.query("SELECT count(*) AS n FROM events_raw").column("n")[0].as_py() == 0
    events = 0
    for done, batch in enumerate(generator.batches(), 1):
        events += store.append_events(batch, ids_are_new=empty).inserted
        if progress:
            progress(done, generator.chunks)
    spend = store.append_spend(generator.spend())
    store.refresh()
    return Generated(leads, generator.referred_leads, events, spend.inserted, seed)
