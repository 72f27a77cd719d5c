"""Funnel benchmark: ``buyerjourney.funnel`` on the DuckDB store next to ClickHouse ``windowFunnel`` (embedded
chdb, ``shared/bench/funnel_anchor.py``), on the same seeded synthetic file, in the same run.

Steps: generate the file with the anchor script; time the anchor (its MergeTree load untimed); import the
file into a buyerjourney store (untimed); in a fresh process, time our queries on the store:

- the 4-step ordered funnel visit, signup, demo, purchase with a 1-day window (levels must equal the
  anchor's, or the benchmark exits 1);
- that funnel plus the list of every entity that dropped at step 2;
- a 20-step funnel (the five event names four times), strict order, and per-step windows (``within``);
- peak RSS of that query process; a ``buyerjourney funnel`` command on a small store, cold (fresh
  compiled-code cache) and warm.

    python benchmarks/bench_funnel.py --events 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANCHOR = HERE.parent.parent / "shared" / "bench" / "funnel_anchor.py"
EVENTS = ["visit", "signup", "demo", "purchase", "referral"]
STEPS4 = ["visit", "signup", "demo", "purchase"]
WINDOW = 86400
QUERIES = {
    "ordered4": {"steps": STEPS4, "window": f"{WINDOW}s"},
    "ordered20": {"steps": [EVENTS[i % 5] for i in range(20)], "window": f"{WINDOW}s"},
    "strict4": {"steps": STEPS4, "window": f"{WINDOW}s", "order": "strict"},
    "within4": {"steps": ["visit", {"event": "signup", "within": "1h"}, {"event": "demo", "within": "1h"},
                          "purchase"], "window": f"{WINDOW}s"},
}


def anchor(*args: str) -> dict:
    """Run the anchor script with this interpreter; its last stdout line is a JSON object."""
    done = subprocess.run([sys.executable, str(ANCHOR), *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_store(data: Path, store_path: Path, limit: int | None = None) -> None:
    """Import the anchor's Parquet file into a buyerjourney store (bulk SQL insert, then the store's refresh)."""
    from buyerjourney.store import DuckDBStore

    with DuckDBStore.open(store_path) as store:
        where = "" if limit is None else " WHERE file_row_number < ?"
        store.run("INSERT INTO events_raw SELECT 'r' || CAST(file_row_number AS VARCHAR), CAST(entity_id AS VARCHAR), "
                  "NULL, NULL, event, ts, NULL FROM read_parquet(?, file_row_number = true)" + where,
                  [str(data)] + ([limit] if limit is not None else []))
        store.mark_changed()
        store.refresh()


def peak_rss_mb() -> int:
    """This process's peak resident memory since it started (VmHWM). Not ru_maxrss: Linux carries that
    across fork and exec, so a child of a big parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def timed(fn, repeat: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return times, out


def measure(store_path: Path, repeat: int) -> dict:
    """Our timings, in this (fresh) process: every query once untimed (compiled code loaded), then ``repeat``."""
    import buyerjourney
    from buyerjourney.store import DuckDBStore

    report: dict = {}
    with DuckDBStore.open(store_path, read_only=True) as store:
        for name, query in QUERIES.items():
            buyerjourney.funnel(store, **query)
            times, result = timed(lambda q=query: buyerjourney.funnel(store, **q), repeat)
            report[name] = {"times": times, "levels": result.level_counts()}
        buyerjourney.funnel(store, **QUERIES["ordered4"]).dropped(2)
        times, dropped = timed(lambda: buyerjourney.funnel(store, **QUERIES["ordered4"]).dropped(2), repeat)
        report["dropped2"] = {"times": times, "entities": len(dropped)}
    report["peak_rss_mb"] = peak_rss_mb()
    return report


def cli_times(small: Path, runs: int = 3) -> tuple[float, list[float]]:
    """Wall time of ``buyerjourney funnel`` on a small store: first with an empty compiled-code cache, then warm."""
    command = [sys.executable, "-m", "buyerjourney", "funnel", "--db", str(small), "--steps", ",".join(STEPS4),
               "--window", "1d", "--format", "json"]
    cache = tempfile.mkdtemp(prefix="bench-numba-")
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    try:
        times = []
        for _ in range(runs + 1):
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return times[0], times[1:]


def fmt_s(times: list[float]) -> str:
    return f"{min(times):7.3f} s (median {statistics.median(times):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="keep the data file and stores here (default: a temp folder)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: time our queries on a store
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-funnel-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"events_{args.events}_s{args.seed}.parquet"
    store_path = work / f"store_{args.events}_s{args.seed}.duckdb"
    small = work / "small.duckdb"
    try:
        if not data.exists():
            anchor("generate", "--events", str(args.events), "--out", str(data), "--seed", str(args.seed))
        common = ["--data", str(data), "--window", str(WINDOW), "--repeat", str(args.repeat)]
        ch4 = anchor("clickhouse", "--steps", ",".join(STEPS4), *common)
        ch_strict = anchor("clickhouse", "--steps", ",".join(STEPS4), "--mode", "strict_order", *common)
        ch20 = anchor("clickhouse", "--steps", ",".join(QUERIES["ordered20"]["steps"]), *common)
        if not store_path.exists():
            load_store(data, store_path)
        if not small.exists():
            load_store(data, small, limit=20_000)
        done = subprocess.run([sys.executable, __file__, "--measure", str(store_path), "--repeat", str(args.repeat)],
                              capture_output=True, text=True, check=True)
        ours = json.loads(done.stdout.strip().splitlines()[-1])
        cold, warm = cli_times(small)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    anchor4 = min(ch4["query_s_all"])
    o4 = min(ours["ordered4"]["times"])
    ours_levels = {str(k): v for k, v in enumerate(ours["ordered4"]["levels"])}
    same = ours_levels == ch4["levels"]
    print(f"funnel benchmark: {args.events:,} events, {ch4['entities']:,} entities, seed {args.seed}; "
          f"ClickHouse {ch4['clickhouse_version']} (chdb {ch4['chdb_version']}); best of {args.repeat}")
    print(f"  anchor windowFunnel 4-step, 1d window        {fmt_s(ch4['query_s_all'])}")
    print(f"  ours 4-step ordered, 1d window               {fmt_s(ours['ordered4']['times'])}   "
          f"{o4 / anchor4:.2f}x the anchor (goal <= 1.0x, aim 0.3x)")
    d2 = ours["dropped2"]
    print(f"  ours 4-step + list dropped at step 2 ({d2['entities']:,})  {fmt_s(d2['times'])}   "
          f"{min(d2['times']) / o4:.2f}x the funnel (goal <= 1.2x); {min(d2['times']) / anchor4:.2f}x the anchor")
    o20 = min(ours["ordered20"]["times"])
    print(f"  ours 20-step ordered                         {fmt_s(ours['ordered20']['times'])}   "
          f"{o20 / o4:.2f}x the 4-step (goal <= 2x); anchor 20-step {min(ch20['query_s_all']):.3f} s, "
          f"ratio {o20 / min(ch20['query_s_all']):.2f}x")
    os_ = min(ours["strict4"]["times"])
    print(f"  ours 4-step strict                           {fmt_s(ours['strict4']['times'])}   "
          f"{os_ / min(ch_strict['query_s_all']):.2f}x the anchor's strict_order "
          f"({min(ch_strict['query_s_all']):.3f} s; different semantics); {os_ / anchor4:.2f}x the anchor")
    ow = min(ours["within4"]["times"])
    print(f"  ours 4-step, within 1h on steps 2 and 3      {fmt_s(ours['within4']['times'])}   "
          f"{ow / anchor4:.2f}x the anchor (which has no per-step windows)")
    print(f"  peak RSS, our query process                  {ours['peak_rss_mb'] / 1024:.2f} GB "
          f"(anchor process {ch4['peak_rss_mb'] / 1024:.2f} GB; goal <= 3 GB at 50 M)")
    print(f"  buyerjourney funnel on a 20k-event store     cold {cold:.2f} s, warm {min(warm):.2f} s "
          f"(median {statistics.median(warm):.2f}; goal < 2 s warm)")
    print(f"  levels {'identical' if same else 'DIFFER'}: ours {ours_levels} anchor {ch4['levels']}")
    print(json.dumps({"events": args.events, "anchor": {"ordered4": ch4, "strict_order4": ch_strict, "ordered20": ch20},
                      "ours": ours, "cli": {"cold_s": cold, "warm_s": warm}, "levels_identical": same}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
