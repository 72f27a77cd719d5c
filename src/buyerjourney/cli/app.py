"""The typer application and what every command shares: store option, output formats, rendering."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from buyerjourney.store import DuckDBStore

app = typer.Typer(
    name="buyerjourney",
    help="See where your buyer journey leaks, what a lead is worth, and which leads are ready for sales.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)



@app.callback()
def _root() -> None:
    """See where your buyer journey leaks, what a lead is worth, and which leads are ready for sales.

    Example:

        buyerjourney demo
    """


console = Console()
err_console = Console(stderr=True)


class OutputFormat(str, Enum):
    """How a command prints its result."""

    table = "table"
    json = "json"
    csv = "csv"


DbOption = Annotated[
    Path | None,
    typer.Option("--db", envvar="BUYERJOURNEY_DB", help="DuckDB store file [default: ./buyerjourney.duckdb]",
                 show_default=False),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, json or csv")]


@contextmanager
def opened_store(db: Path | None, *, read_only: bool = False, create: bool = True,
                 refreshed: bool = False) -> Iterator[DuckDBStore]:
    """Open the store for one command and close it after.

    ``refreshed``: a store whose last import was not followed by a refresh (an interrupted import) is
    refreshed first, so the command reads every stored event.
    """
    store = DuckDBStore.open(db, read_only=read_only, create=create)
    if refreshed and store.needs_refresh:
        if read_only:
            store.close()
            with DuckDBStore.open(db) as writable:
                writable.refresh()
            store = DuckDBStore.open(db, read_only=True)
        else:
            store.refresh()
    try:
        yield store
    finally:
        store.close()


def to_jsonable(value: Any) -> Any:
    """Dates as ISO strings, everything else as json would have it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")


def print_csv(rows: Sequence[Mapping[str, Any]]) -> None:
    """Print rows (dicts with the same keys) as CSV on stdout."""
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: to_jsonable(v) for k, v in row.items()})
    sys.stdout.write(buffer.getvalue())


def print_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> None:
    """Print rows as a rich table."""
    table = Table(title=title, title_justify="left")
    if rows:
        for key in rows[0]:
            numeric = all(isinstance(r.get(key), int | float) for r in rows if r.get(key) is not None)
            table.add_column(str(key), justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*("" if v is None else _cell(v) for v in row.values()))
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(to_jsonable(value))


def emit(rows: Sequence[Mapping[str, Any]], fmt: OutputFormat, *, title: str | None = None,
         document: Any = None) -> None:
    """Print ``rows`` in ``fmt``; JSON prints ``document`` instead when one is given."""
    if fmt is OutputFormat.json:
        print_json(document if document is not None else list(rows))
    elif fmt is OutputFormat.csv:
        print_csv(rows)
    else:
        print_table(rows, title=title)
