"""Import benchmark: ``buyerjourney`` importing a Parquet file of N events, next to DuckDB loading it bare.

A seeded Parquet file of N events in the event contract's columns (about N/20 entities, visits before
opt-in made anonymously and linked at sign-up, a third of the events with JSON properties) is loaded:

- anchor: DuckDB's own ``CREATE TABLE events AS SELECT * FROM read_parquet(...)`` into a fresh file;
- ours: :func:`buyerjourney.ingest.import_files` into a fresh store, which validates every row, derives ids
  where missing, deduplicates, and refreshes the store (identity resolution, dictionaries, clustering).

Both include closing (checkpointing) the file. Prints events/s for each and the ratio.

    python benchmarks/bench_import.py --events 5000000
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from buyerjourney.ingest import import_files
from buyerjourney.store import DuckDBStore

EVENTS = np.array(["visit", "signup", "email_open", "demo", "purchase", "referral"])
MIX = [0.5, 0.2, 0.12, 0.1, 0.06, 0.02]
PROPS = np.array(['{"source":"organic"}', '{"source":"paid_search","campaign":"spring"}',
                  '{"source":"social","capture":"guide"}', '{"product":"pro","revenue":500,"currency":"EUR"}'])


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def generate(path: Path, n: int, seed: int, *, event_ids: bool = True) -> None:
    """Write ``n`` seeded events to ``path`` (Parquet, row groups of 1 Mi rows)."""
    rng = np.random.default_rng(seed)
    entities = max(1, n // 20)
    entity = rng.integers(0, entities, n)
    event = EVENTS[rng.choice(len(EVENTS), n, p=MIX)]
    ts = np.int64(1_704_067_200) * 1_000_000 + rng.integers(0, 2 * 365 * 86_400, n) * 1_000_000
    anonymous_visit = (event == "visit") & (rng.random(n) < 0.6)
    linked = event == "signup"
    user = _ids("u", entity)
    anon = _ids("a", entity)
    has_props = rng.random(n) < 0.35
    props = PROPS[rng.integers(0, len(PROPS), n)]
    columns = {
        "event_id": _ids("e", np.arange(n)) if event_ids else pa.nulls(n, pa.string()),
        "entity_id": pc.if_else(pa.array(anonymous_visit), pa.scalar(None, pa.string()), user),
        "anonymous_id": pc.if_else(pa.array(anonymous_visit | linked), anon, pa.scalar(None, pa.string())),
        "account_id": pa.nulls(n, pa.string()),
        "event": pa.array(event),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "properties": pa.array(np.where(has_props, props, None), pa.string()),
    }
    pq.write_table(pa.table(columns), path, row_group_size=1 << 20)


def anchor(parquet: Path, db: Path) -> float:
    """DuckDB alone: CREATE TABLE AS SELECT * FROM read_parquet, then close."""
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE events AS SELECT * FROM read_parquet(?)", [str(parquet)])
    con.close()
    return time.perf_counter() - started


def ours(parquet: Path, db: Path) -> tuple[float, dict]:
    """buyerjourney: import_files (validation, ids, dedup, refresh) into a fresh store, then close."""
    started = time.perf_counter()
    store = DuckDBStore.open(db)
    report = import_files(store, [parquet])
    store.close()
    return time.perf_counter() - started, report.to_dict()["totals"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (the best is kept)")
    parser.add_argument("--no-event-ids", action="store_true", help="ids derived from content (hash path)")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bj-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        parquet = work / "events.parquet"
        started = time.perf_counter()
        generate(parquet, args.events, args.seed, event_ids=not args.no_event_ids)
        print(f"generated {args.events:,} events ({parquet.stat().st_size / 1e6:.0f} MB Parquet) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        best_anchor = best_ours = float("inf")
        totals: dict = {}
        for run in range(args.repeat):
            for name in ("anchor.duckdb", "ours.duckdb"):
                (work / name).unlink(missing_ok=True)
                (work / f"{name}.wal").unlink(missing_ok=True)
            gc.collect()
            a = anchor(parquet, work / "anchor.duckdb")
            gc.collect()
            o, totals = ours(parquet, work / "ours.duckdb")
            print(f"run {run + 1}: duckdb {a:.2f} s, buyerjourney {o:.2f} s", flush=True)
            best_anchor, best_ours = min(best_anchor, a), min(best_ours, o)
        if totals.get("accepted") != args.events:
            print(f"error: imported {totals} of {args.events:,} events", file=sys.stderr)
            return 1
        result = {
            "events": args.events,
            "duckdb_read_parquet_events_per_s": round(args.events / best_anchor),
            "buyerjourney_import_events_per_s": round(args.events / best_ours),
            "ratio_duckdb_over_ours": round(best_ours / best_anchor, 2),
            "duckdb_s": round(best_anchor, 2),
            "buyerjourney_s": round(best_ours, 2),
        }
        print(f"duckdb read_parquet: {result['duckdb_read_parquet_events_per_s']:>12,} events/s")
        print(f"buyerjourney import: {result['buyerjourney_import_events_per_s']:>12,} events/s "
              f"(x{result['ratio_duckdb_over_ours']} the time of the anchor)")
        print(json.dumps(result))
        return 0
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
