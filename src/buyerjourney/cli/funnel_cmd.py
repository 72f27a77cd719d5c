"""``buyerjourney funnel``: a funnel over the store (DESIGN section 3), with its drill-downs."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from buyerjourney.cli.app import DbOption, FormatOption, OutputFormat, app, console, emit, opened_store, print_json
from buyerjourney.errors import QueryError

if TYPE_CHECKING:  # the engine (Numba) loads only when a funnel runs, keeping other commands quick
    from buyerjourney.engine import FunnelResult


def format_duration(seconds: float) -> str:
    """Seconds as a short human duration (the engine's formatter, loaded on use)."""
    from buyerjourney.engine.readoffs import format_duration as engine_format_duration

    return engine_format_duration(seconds)

_WHERE = re.compile(r"^\s*(\d+)\s*:\s*(.+?)\s*(!=|>=|<=|=|>|<|~| not in | in )\s*(.*?)\s*$")
_OPS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "~": "contains",
        " in ": "in", " not in ": "not_in"}
BAR_WIDTH = 24


def _value(text: str) -> Any:
    """A JSON literal when it parses (``2``, ``true``, ``"2"``), else the text itself (``pro``)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _step_number(text: str, option: str, n: int) -> int:
    try:
        step = int(text)
    except ValueError:
        raise QueryError(f"{option}: {text!r} is not a step number", field=option) from None
    if not 1 <= step <= n:
        raise QueryError(f"{option}: step {step} is not a step of this funnel (1..{n})", field=option)
    return step


def build_steps(steps: str, within: list[str], optional: list[int], where: list[str]) -> list[dict[str, Any]]:
    """The ``steps`` argument of :func:`buyerjourney.funnel` from the command-line options."""
    names = [s.strip() for s in steps.split(",")]
    if not all(names):
        raise QueryError("--steps: expected event names separated by commas, e.g. visit,signup,purchase",
                         field="steps")
    out: list[dict[str, Any]] = [{"event": name} for name in names]
    for spec in within:
        step, _, duration = spec.partition(":")
        if not duration:
            raise QueryError(f"--within {spec!r}: expected STEP:DURATION, e.g. 2:1d", field="within")
        out[_step_number(step, "--within", len(out)) - 1]["within"] = duration.strip()
    for step in optional:
        out[_step_number(str(step), "--optional", len(out)) - 1]["optional"] = True
    for spec in where:
        match = _WHERE.match(spec)
        if not match:
            raise QueryError(f"--where {spec!r}: expected STEP:PROPERTY=VALUE (or !=, >, >=, <, <=, ~, in)",
                             field="where")
        step, key, op, raw = match.groups()
        op = _OPS[op]
        if op in ("in", "not_in"):
            parsed = _value(raw)
            value: Any = parsed if isinstance(parsed, list) else [_value(v.strip()) for v in raw.split(",")]
        else:
            value = _value(raw)
        conditions = out[_step_number(step, "--where", len(out)) - 1].setdefault("where", {})
        conditions.setdefault(key, {})[op] = value
    return out


def build_exclusions(exclude: list[str], n: int) -> list[dict[str, Any]]:
    """``EVENT`` (the whole funnel) or ``EVENT:FROM:TO`` (1-based steps) into exclusion mappings."""
    out = []
    for spec in exclude:
        parts = spec.split(":")
        if len(parts) == 1:
            out.append({"event": parts[0], "from_step": 1, "to_step": n})
        elif len(parts) == 3:
            out.append({"event": parts[0], "from_step": _step_number(parts[1], "--exclude", n),
                        "to_step": _step_number(parts[2], "--exclude", n)})
        else:
            raise QueryError(f"--exclude {spec!r}: expected EVENT or EVENT:FROM_STEP:TO_STEP", field="exclude")
    return out


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "" if value is None else format_duration(value)


def _print_funnel(result: FunnelResult) -> None:
    first = result.counts[0] or 1
    table = Table(title=f"funnel ({result.query.order}, window {format_duration(result.query.window)})",
                  title_justify="left", box=box.SIMPLE_HEAD)
    labels = [f"{row.step}. {row.name}" + (" (optional)" if row.optional else "") for row in result.steps]
    width = max(8, min(BAR_WIDTH, console.width - 56 - min(24, max(len(label) for label in labels))))
    table.add_column("step", min_width=min(24, max(len(label) for label in labels)))
    table.add_column("entities", justify="right", no_wrap=True)
    table.add_column("", width=width, no_wrap=True)
    for column in ("vs previous", "vs first", "median time"):
        table.add_column(column, justify="right", no_wrap=True)
    for label, row in zip(labels, result.steps, strict=True):
        eighths = round(8 * width * row.count / first)
        bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
        if row.count and not bar:
            bar = "▏"  # a step someone reached never shows as empty
        table.add_row(label, f"{row.count:,}",
                      f"[cyan]{bar}[/cyan]", _percent(row.conversion_from_previous),
                      _percent(row.conversion_from_first), _seconds(row.median_seconds_from_previous))
    console.print(table)
    excluded = int(result.out.excluded.sum())
    console.print(f"{result.entity_count:,} entities; conversion {_percent(result.conversion_rate) or 'n/a'}"
                  + (f"; {excluded:,} excluded" if excluded else ""), highlight=False)


def _analysis_rows(result: FunnelResult, by: str | None, attribution: str, top: int, trend: str | None,
                   revenue: str | None, as_of: str | None) -> dict[str, list[dict[str, Any]]]:
    sections: dict[str, list[dict[str, Any]]] = {}
    names = [s.label for s in result.query.steps]
    if by:
        sections["breakdown"] = [{"value": r.value, **dict(zip(names, r.counts, strict=True)),
                                  "conversion_rate": r.conversion_rate}
                                 for r in result.breakdown(by, attribution, top)]
    if trend:
        sections["trend"] = [r.to_dict() for r in result.trends(trend, as_of)]
    if revenue:
        sections["revenue"] = [r.to_dict() for r in result.revenue(revenue)]
    return sections


@app.command("funnel")
def funnel_command(
    steps: Annotated[str, typer.Option("--steps", "-s", help="event names in order, comma-separated")],
    window: Annotated[str, typer.Option(help="the whole chain's time limit from step 1, e.g. 14d, 90m")] = "14d",
    order: Annotated[str, typer.Option(help="ordered, strict (nothing else in between) or unordered")] = "ordered",
    within: Annotated[list[str] | None, typer.Option(help="STEP:DURATION, a step's limit from the previous "
                                                          "filled step, e.g. 2:1d (repeatable)")] = None,
    optional: Annotated[list[int] | None, typer.Option(help="a step that may be skipped (repeatable)")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="EVENT:FROM:TO, drop entities doing EVENT between "
                                                           "those steps (or EVENT: the whole funnel)")] = None,
    where: Annotated[list[str] | None, typer.Option(help="STEP:PROPERTY=VALUE filter on a step's events; also "
                                                         "!=, >, >=, <, <=, ~ (contains), ' in a,b'")] = None,
    by: Annotated[str | None, typer.Option(help="break down by this event property (entity:NAME for a "
                                                "trait)")] = None,
    attribution: Annotated[str, typer.Option(help="whose event carries --by: first, last or step:N")] = "first",
    top: Annotated[int, typer.Option(help="--by values shown before '(other)'")] = 10,
    trend: Annotated[str | None, typer.Option(help="conversion per entry period: day, week or month")] = None,
    revenue: Annotated[str | None, typer.Option(help="sum this numeric property per step")] = None,
    as_of: Annotated[str | None, typer.Option(help="'now' for incomplete trend periods [default: latest "
                                                   "event]")] = None,
    reached_at: Annotated[int | None, typer.Option(help="list the entities that reached this step")] = None,
    dropped_at: Annotated[int | None, typer.Option(help="list the entities that dropped at this step")] = None,
    limit: Annotated[int | None, typer.Option(help="page size of an entity list")] = None,
    offset: Annotated[int, typer.Option(help="start of the page of an entity list")] = 0,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Count the entities reaching each step of a funnel, with conversion, time to convert and drill-downs.

    A chain fills the steps in order (ordered: anything may happen in between; strict: nothing may;
    unordered: any order), all within --window of its first step. Lists of the entities that reached
    or dropped at a step come off the same result (--reached-at, --dropped-at, paged with --limit/--offset).

    Example:

        buyerjourney funnel --steps visit,signup,demo,purchase --window 30d --within 2:1d --by source --format json
    """
    spec = build_steps(steps, within or [], optional or [], where or [])
    exclusions = build_exclusions(exclude or [], len(spec))
    if reached_at is not None and dropped_at is not None:
        raise QueryError("give one of --reached-at and --dropped-at", field="reached_at")
    with opened_store(db, read_only=True, create=False, refreshed=True) as store:
        from buyerjourney.engine import funnel

        result = funnel(store, steps=spec, window=window, order=order, exclusions=exclusions)
        if reached_at is not None or dropped_at is not None:
            kind = "reached" if reached_at is not None else "dropped"
            step = int(reached_at if reached_at is not None else dropped_at)  # type: ignore[arg-type]
            mask = result.reached_mask(step) if kind == "reached" else result.dropped_mask(step)
            ids = result.reached(step, limit, offset) if kind == "reached" else result.dropped(step, limit, offset)
            document = {"step": step, "name": result.query.steps[step - 1].label, "kind": kind,
                        "total": int(mask.sum()), "offset": offset, "entities": ids}
            if fmt is OutputFormat.json:
                print_json(document)
            elif fmt is OutputFormat.csv:
                sys.stdout.write(result.entities_csv(ids))
            else:
                emit([{"entity_id": i} for i in ids], fmt,
                     title=f"{document['total']:,} entities {kind} step {step} ({document['name']})"
                           + (f", showing {offset + 1}-{offset + len(ids)}" if ids else ""))
            return
        sections = _analysis_rows(result, by, attribution, top, trend, revenue, as_of)
        if fmt is OutputFormat.json:
            print_json(result.to_dict(**sections))
        elif fmt is OutputFormat.csv:
            if len(sections) > 1:
                raise QueryError("CSV prints one table: give only one of --by, --trend, --revenue", field="format")
            rows = next(iter(sections.values())) if sections else [s.to_dict() for s in result.steps]
            emit(rows, fmt)
        else:
            _print_funnel(result)
            for name, rows in sections.items():
                emit(rows, fmt, title=name)
