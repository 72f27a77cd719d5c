"""``buyerjourney demo`` (the demo business in a fresh store, summarised) and ``buyerjourney generate`` (to files)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from buyerjourney.analysis import run_audit
from buyerjourney.cli.app import DbOption, FormatOption, OutputFormat, app, emit, err_console, print_json, to_jsonable
from buyerjourney.cli.audit_cmd import print_audit
from buyerjourney.config import JourneyConfig
from buyerjourney.demo.generator import DEFAULT_LEADS, DEFAULT_SEED, MAX_LEADS
from buyerjourney.demo.output import fresh_demo_store, load_demo, write_demo
from buyerjourney.demo.summary import summarize
from buyerjourney.store import default_db_path

LeadsOption = Annotated[int, typer.Option("--leads", min=1, max=MAX_LEADS,
                                          help="leads captured from traffic (referred leads come on top)")]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="the same seed gives the same business")]


@contextmanager
def _chunk_progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (only on a terminal), advanced once per chunk of leads."""
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(what, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


@app.command()
def demo(leads: LeadsOption = DEFAULT_LEADS, seed: SeedOption = DEFAULT_SEED, db: DbOption = None,
         report: Annotated[Path, typer.Option("--report", dir_okay=False, help="where to write the HTML report")] =
         Path("report.html"),
         fmt: FormatOption = OutputFormat.table) -> None:
    """Build the demo business (two years of a small business's buyer journey), load it into a fresh store and
    print its first summary (events, entities and the people at each of the seven stages), then the journey
    audit with its leaks ranked from the end, and write the audit as an HTML report.

    The store (default ./buyerjourney.duckdb) is replaced on each run, so the demo is repeatable; a store
    holding anything but demo events is refused.

    Example:

        buyerjourney demo
        buyerjourney demo --leads 5000 --seed 7 --db demo.duckdb --report demo.html --format json
    """
    path = db if db is not None else default_db_path()
    with _chunk_progress("building the demo business") as advance, fresh_demo_store(path) as store:
        load_demo(store, leads, seed, progress=advance)
        summary = summarize(store)
        with _chunk_progress("auditing the journey") as advance_audit:
            audit_doc = to_jsonable(run_audit(store, JourneyConfig(),
                                              progress=lambda _step, done, total: advance_audit(done, total)
                                              ).to_dict())
    from buyerjourney.report import write_audit_html  # plotly loads only when a report is written

    write_audit_html(audit_doc, report)
    if fmt is OutputFormat.json:
        print_json({"summary": summary.to_dict(), "audit": audit_doc, "report": str(report)})
        return
    emit(summary.rows(), fmt, title=f"demo business in {path}: {summary.title}", document=summary.to_dict())
    if fmt is OutputFormat.table:
        print_audit(audit_doc)
    err_console.print(f"wrote the HTML report to {report}", highlight=False)


@app.command()
def generate(out: Annotated[Path, typer.Option("--out", "-o", help="events file: .parquet or .jsonl",
                                               dir_okay=False)],
             leads: LeadsOption = DEFAULT_LEADS, seed: SeedOption = DEFAULT_SEED,
             spend_out: Annotated[Path | None, typer.Option("--spend-out", help="spend file: .csv, .parquet or .jsonl",
                                                            dir_okay=False)] = None,
             fmt: FormatOption = OutputFormat.table) -> None:
    """Write the demo business's events (and its marketing spend) to files, to import or to inspect.

    Example:

        buyerjourney generate --leads 100000 --seed 7 --out demo.parquet --spend-out spend.csv
    """
    with _chunk_progress("generating events") as advance:
        result = write_demo(out, leads, seed, spend_out=spend_out, progress=advance)
    rows = [{"what": "events file", "value": str(out)}, {"what": "events", "value": result.events},
            {"what": "leads", "value": result.leads}, {"what": "referred leads", "value": result.referred_leads},
            {"what": "seed", "value": result.seed}]
    if spend_out is not None:
        rows += [{"what": "spend file", "value": str(spend_out)}, {"what": "spend rows", "value": result.spend_rows}]
    emit(rows, fmt, title="demo business written",
         document={"events_file": str(out), "spend_file": None if spend_out is None else str(spend_out),
                   "events": result.events, "leads": result.leads, "referred_leads": result.referred_leads,
                   "spend_rows": result.spend_rows if spend_out is not None else 0, "seed": result.seed})
