"""Run every benchmark in one go (``make bench``); each prints its figures as ratios to its anchor.

Benchmarks are never part of the test suite: timings on shared machines are noisy, so they only report.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the benchmarks run")
    parser.add_argument("--funnel-events", type=int, action="append",
                        help="funnel benchmark sizes (default 10 M; repeat for more, e.g. 50 M)")
    parser.add_argument("--import-events", type=int, default=5_000_000)
    parser.add_argument("--audit-leads", type=int, default=1_000_000)
    args = parser.parse_args()
    funnel_sizes = args.funnel_events or [10_000_000]
    if args.quick:
        funnel_sizes, args.import_events, args.audit_leads = [500_000], 500_000, 20_000
    runs = [[sys.executable, str(HERE / "bench_import.py"), "--events", str(args.import_events)]]
    runs += [[sys.executable, str(HERE / "bench_funnel.py"), "--events", str(n)] for n in funnel_sizes]
    runs.append([sys.executable, str(HERE / "bench_audit.py"), "--leads", str(args.audit_leads)])
    failed = 0
    for command in runs:
        print(f"\n=== {' '.join(Path(c).name if c.endswith('.py') else c for c in command[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command)
        print(f"=== exit {code} after {time.perf_counter() - started:.1f} s", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
