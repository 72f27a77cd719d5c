"""``buyerjourney audit`` (the seven-stage journey audit) and ``buyerjourney init`` (write journey.yaml)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from buyerjourney.analysis import run_audit
from buyerjourney.cli.app import DbOption, app, console, err_console, opened_store, to_jsonable
from buyerjourney.config import DEFAULT_CONFIG_NAME, JourneyConfig, default_config_text, load_config
from buyerjourney.errors import InputError


class AuditFormat(str, Enum):
    """How ``buyerjourney audit`` prints its result."""

    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", help="journey config [default: ./journey.yaml if present, else the built-in defaults]",
    show_default=False, dir_okay=False)]


def resolve_config(path: Path | None) -> JourneyConfig:
    """``--config`` if given, else ``./journey.yaml`` when it exists, else the defaults."""
    if path is not None:
        return load_config(path)
    local = Path(DEFAULT_CONFIG_NAME)
    return load_config(local) if local.is_file() else JourneyConfig()


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _pct(value: Any) -> str:
    return "" if value is None else f"{value:.1%}"


def print_audit(doc: dict[str, Any], out: Console | None = None) -> None:
    """The audit document in the terminal: what to fix first, the leaks, then each stage's three questions."""
    out = out or console
    period = doc["period"]
    out.print(Text(f"Buyer journey audit of {doc['store']}: {period['months']} months to {doc['as_of'][:10]}",
                   style="bold"))
    out.print(Panel(doc["fix_first"], title="Fix first", title_align="left", border_style="red"))
    leaks = Table(title="Leaks, ranked from the end of the journey", title_justify="left", show_lines=False)
    leaks.caption = ("lost/mo: customers lost a month; revenue/mo: revenue lost a month; "
                     "promo/mo: promotion spend wasted a month")
    for name in ("#", "leak", "rate", "target", "lost/mo", "revenue/mo", "promo/mo"):
        leaks.add_column(name, justify="left" if name == "leak" else "right", no_wrap=name != "leak",
                         min_width=20 if name == "leak" else None)
    for leak in doc["leaks"]:
        lost = leak["customers_lost_per_month"]
        leaks.add_row(str(leak["rank"]), f"{leak['stage_id']} {leak['stage']}: {leak['from']} → {leak['to']}",
                      _pct(leak["conversion"]), _pct(leak["target"]), "" if lost is None else f"{lost:,.1f}",
                      _money(leak["revenue_lost_per_month"]), _money(leak["promotion_spend_wasted_per_month"]))
    if doc["leaks"]:
        out.print(leaks)
    else:
        out.print("No leak: every measured transition meets its target.")
    for stage in doc["stages"]:
        table = Table(title=f"{stage['id']}. {stage['name']}", title_justify="left", show_lines=True, expand=True)
        table.add_column("#", no_wrap=True)
        table.add_column("answer", ratio=3)
        table.add_column("how", ratio=2, style="dim")
        for q in stage["questions"]:
            status = Text(q["status"], style="green" if q["status"] == "answered" else "yellow")
            answer = Text.assemble((q["question"] + "\n", "bold"), status, " ", q["answer"])
            table.add_row(q["id"], answer, q["how"])
        out.print(table)
    econ = doc["economics"]
    values = Table(title=f"Lead value (gross margin {econ['margin']:.0%})", title_justify="left")
    for name in ("horizon", "P(buy)", "avg price", "lead value", "most to pay per lead"):
        values.add_column(name, justify="right")
    for row in econ["lead_value"]:
        values.add_row(f"{row['horizon_months']} months", _pct(row["conversion"]), _money(row["avg_price"]),
                       _money(row["value"]), _money(row["max_cost_per_lead"]))
    out.print(values)
    referral = econ["referral"]
    if referral["max_spend_per_referral"] is not None:
        out.print(f"A referral is worth {_money(referral['value'])} × {_pct(referral['conversion'])} = "
                  f"{_money(referral['max_spend_per_referral'])}: the most to spend for one.")


def audit_csv(doc: dict[str, Any]) -> str:
    """One row per question: stage, id, question, status, answer, value (JSON), how, track."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["stage_id", "stage", "id", "question", "status", "answer", "value", "how", "track"])
    for stage in doc["stages"]:
        for q in stage["questions"]:
            writer.writerow([stage["id"], stage["name"], q["id"], q["question"], q["status"], q["answer"],
                             json.dumps(q["value"], ensure_ascii=False), q["how"], q["track"] or ""])
    return buffer.getvalue()


def render_html(doc: dict[str, Any]) -> str:
    """The HTML report (buyerjourney.report), imported only when asked for."""
    from buyerjourney.report import render_audit_html

    return render_audit_html(doc)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}", field="output") from exc
    err_console.print(f"wrote {output}", highlight=False)


@app.command()
def audit(config: ConfigOption = None,
          months: Annotated[int, typer.Option("--months", "-m", min=1, max=240, help="months audited")] = 12,
          fmt: Annotated[AuditFormat, typer.Option("--format", "-f", help="table, json, csv or html")] =
          AuditFormat.table,
          output: Annotated[Path | None, typer.Option("--output", "-o", dir_okay=False,
                                                      help="write to this file instead of the terminal")] = None,
          as_of: Annotated[str | None, typer.Option("--as-of", help="audit date YYYY-MM-DD [default: last event]",
                                                    show_default=False)] = None,
          db: DbOption = None) -> None:
    """Audit the seven-stage buyer journey: the three questions of each stage answered from your events,
    the leaks ranked from the end of the journey backwards, what a lead and a referral are worth, and what
    to fix first. Every figure says how it was computed.

    Example:

        buyerjourney audit
        buyerjourney audit --config journey.yaml --months 6 --format json -o audit.json
        buyerjourney audit --format html -o report.html
    """
    journey = resolve_config(config)
    day = _parse_day(as_of)
    with opened_store(db, create=False, refreshed=True) as store, \
            Progress(TextColumn("auditing: {task.description}"), BarColumn(), TimeElapsedColumn(),
                     console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("starting", total=None)
        report = run_audit(store, journey, period_months=months, as_of=day,
                           progress=lambda step, done, total: bar.update(task, description=step,
                                                                         completed=done, total=total))
    doc = to_jsonable(report.to_dict())
    if fmt is AuditFormat.json:
        _write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", output)
    elif fmt is AuditFormat.csv:
        _write(audit_csv(doc), output)
    elif fmt is AuditFormat.html:
        _write(render_html(doc), output)
    elif output is not None:
        recorder = Console(record=True, width=140, file=io.StringIO())
        print_audit(doc, recorder)
        _write(recorder.export_text(), output)
    else:
        print_audit(doc)


def _parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of: {text!r} is not a date (YYYY-MM-DD)", field="as_of") from None


@app.command()
def init(force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
         path: Annotated[Path, typer.Option("--path", dir_okay=False, help="where to write it")] =
         Path(DEFAULT_CONFIG_NAME)) -> None:
    """Write the commented default journey config (journey.yaml): which of your events mean a visit, an
    opt-in, a purchase, ...; playbooks per lead type; targets per stage; gross margin; horizons.

    Example:

        buyerjourney init
        buyerjourney init --force --path config/journey.yaml
    """
    if path.exists() and not force:
        raise InputError(f"{path} already exists: edit it, or pass --force to overwrite it", field="path")
    _write(default_config_text(), path)
