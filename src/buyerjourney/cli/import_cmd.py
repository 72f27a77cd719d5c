"""``buyerjourney import``: events (CSV, JSON Lines, Segment, Parquet) and spend files into the store."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from buyerjourney.cli.app import DbOption, FormatOption, OutputFormat, app, console, emit, err_console, opened_store
from buyerjourney.ingest import ImportOptions, ImportReport, NullProgress, RichProgress, import_files, parse_maps


@app.command("import")
def import_(
    files: Annotated[list[Path] | None, typer.Argument(help="event files: .csv .tsv .jsonl .json .parquet "
                                                            "(also .gz); Segment messages are recognised",
                                                       show_default=False)] = None,
    spend: Annotated[list[Path] | None, typer.Option("--spend", help="a spend file (date, source, campaign, "
                                                     "amount, currency); repeat for more", show_default=False)] = None,
    maps: Annotated[list[str] | None, typer.Option("--map", help="TARGET=COLUMN, e.g. entity_id=Email or "
                                                   "source=Origin; repeat for more", show_default=False)] = None,
    event: Annotated[str | None, typer.Option("--event", help="the event name of every row (e.g. a CRM export "
                                              "of deals)", show_default=False)] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="IANA zone of timestamps written without "
                                                 "one, e.g. Europe/Paris", show_default=False)] = None,
    rejects: Annotated[Path | None, typer.Option("--rejects", help="write rejected rows here (.csv, else JSON "
                                                 "Lines)", dir_okay=False, show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import events and spend into the store; report rows accepted, duplicates and rejected (with reasons).

    Re-importing a file adds nothing. Bad rows are reported with file, line and reason while the rows around
    them land; a file that cannot be read at all stops the import before anything is written.

    Example:

    \b
        buyerjourney import events.parquet segment-export.jsonl --spend ads_spend.csv
        buyerjourney import deals.csv --event deal --map entity_id=Email \\
            --map ts="Created Date" --map source=Origin --timezone Europe/Paris --rejects rejects.csv
    """
    options = ImportOptions(maps=parse_maps(maps or []), event=event, timezone=timezone, rejects=rejects,
                            spend=tuple(spend or ()))
    show = not quiet and err_console.is_terminal and fmt is OutputFormat.table
    with opened_store(db) as store, (RichProgress(err_console) if show else nullcontext(NullProgress())) as bar:
        report = import_files(store, files or [], options, bar)
    _print(report, fmt)


def _print(report: ImportReport, fmt: OutputFormat) -> None:
    if fmt is not OutputFormat.table:
        emit([f.row() for f in report.files], fmt, document=report.to_dict())
        return
    emit([{"file": f.file, "format": f.format if f.kind == "events" else f"{f.format} (spend)", "rows": f.rows,
           "added": f.accepted, "duplicates": f.duplicates, "rejected": f.rejected, "links": f.identity_links,
           "conflicts": f.identity_conflicts} for f in report.files], fmt, title="import")
    rejected = [r for f in report.files for r in f.first_rejects]
    if rejected:
        emit([{"where": r.where(), "reason": r.reason} for r in rejected], fmt,
             title="first rejected rows" + ("" if report.rejects_file else " (all of them: --rejects FILE)"))
    for conflict in report.conflicts[:10]:
        console.print(f"identity conflict: {conflict.from_id} stays with {conflict.kept_to_id}, not "
                      f"{conflict.rejected_to_id} ({conflict.reason})", markup=False, highlight=False)
    if len(report.conflicts) > 10:
        console.print(f"… and {len(report.conflicts) - 10} more identity conflicts (buyerjourney info)")
    console.print(f"{report.accepted:,} rows added, {report.duplicates:,} already there, {report.rejected:,} "
                  f"rejected, in {report.seconds:.1f} s" + (f"; rejects in {report.rejects_file}"
                                                             if report.rejects_file else ""),
                  markup=False, highlight=False)
