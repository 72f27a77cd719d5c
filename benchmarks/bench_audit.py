"""The whole journey audit on the demo business at scale (default 1 M leads, tens of millions of events).

The demo business is generated and loaded into a DuckDB store first (not timed; the store is kept in the
temp folder and reused by later runs with the same size and seed). Then ``run_audit`` runs end to end,
with its progress shown, and the time of each step and of the whole audit is printed against the
target (30 s). Exits non-zero when the audit finds none of the leaks the generator planted, or takes
longer than the target.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from buyerjourney.analysis import run_audit
from buyerjourney.demo.output import fresh_demo_store, load_demo
from buyerjourney.store import DuckDBStore

TARGET_SECONDS = 30.0


def _store(leads: int, seed: int, path: Path, console: Console) -> Path:
    if path.exists():
        with DuckDBStore.open(path) as store:  # writable: a store of an older schema is migrated
            if store.info().events:
                if store.needs_refresh:
                    store.refresh()
                console.print(f"reusing {path} ({store.info().events:,} events)")
                return path
    started = time.perf_counter()
    with fresh_demo_store(path) as store, Progress(TextColumn("generating and loading"), BarColumn(),
                                                   TextColumn("{task.completed}/{task.total} chunks"),
                                                   TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("load", total=None)
        generated = load_demo(store, leads, seed, progress=lambda done, total: bar.update(task, completed=done,
                                                                                            total=total))
    console.print(f"loaded {generated.events:,} events of {leads:,} leads (+{generated.referred_leads:,} referred) "
                  f"in {time.perf_counter() - started:.1f} s (not timed)")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--db", type=Path, default=None, help="store to (re)use [default: in the temp folder]")
    args = parser.parse_args()
    console = Console()
    path = args.db or Path(tempfile.gettempdir()) / f"buyerjourney-bench-audit-{args.leads}-{args.seed}.duckdb"
    _store(args.leads, args.seed, path, console)
    steps: list[tuple[str, float]] = []
    with DuckDBStore.open(path, read_only=True) as store:
        events = store.info().events
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("audit", total=None)

            def progress(step: str, done: int, total: int) -> None:
                steps.append((step, time.perf_counter()))
                bar.update(task, description=step, completed=done, total=total)

            started = time.perf_counter()
            report = run_audit(store, progress=progress)
            elapsed = time.perf_counter() - started
    console.print("step times:")
    for (step, at), (_, after) in itertools.pairwise(steps):
        console.print(f"  {after - at:7.2f} s  {step}")
    leaks = report.to_dict()["leaks"]
    console.print(f"leaks found: {len(leaks)}")
    for leak in leaks:
        segment = leak["segment"]
        where = f" [{segment['dimension']}={segment['value']}]" if segment else ""
        console.print(f"  {leak['rank']}. stage {leak['stage_id']} {leak['metric']}{where}: {leak['from']} → "
                      f"{leak['to']} {leak['conversion']:.3f} vs {leak['target']:.2f}", markup=False)
    verdict = "within" if elapsed < TARGET_SECONDS else "OVER"
    console.print(f"audit of {args.leads:,} leads ({events:,} events): {elapsed:.2f} s, {verdict} the "
                  f"{TARGET_SECONDS:.0f} s target (ratio {elapsed / TARGET_SECONDS:.2f})")
    return 0 if elapsed < TARGET_SECONDS and leaks else 1


if __name__ == "__main__":
    sys.exit(main())
