"""Marketing spend files (``--spend FILE``): ``date``, ``source``, ``campaign``?, ``amount``, ``currency``?

CSV, JSON Lines or Parquet, with the same fast readers and per-row reasons as events. Columns are found by
name (any case) or a common alias (``day``, ``channel``, ``cost``…); other columns are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from buyerjourney.errors import ImportFormatError
from buyerjourney.ingest.batches import Batch, columns_table, with_book
from buyerjourney.ingest.formats import RAW_EXCERPT, open_binary
from buyerjourney.ingest.jsonl import loads, read_lines
from buyerjourney.ingest.normalise import Params, is_text

SPEND_FIELDS = ("date", "source", "campaign", "amount", "currency")
SPEND_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("day", "spend_date"),
    "source": ("channel", "utm_source"),
    "campaign": ("campaign_name", "utm_campaign"),
    "amount": ("cost", "spend"),
    "currency": ("currency_code",),
}
REQUIRED = ("date", "source", "amount")
_JSON_ROWS = 20_000


@dataclass(frozen=True)
class SpendPlan:
    """Which column index feeds each spend field (``None``: absent, only for optional ones)."""

    names: list[str]
    fields: dict[str, int | None]


def plan_spend(file: str, names: list[str]) -> SpendPlan:
    """Find the spend columns in ``names``; refuse a file without date, source and amount."""
    folded = {n.casefold(): i for i, n in reversed(list(enumerate(names)))}
    fields: dict[str, int | None] = {}
    for target in SPEND_FIELDS:
        fields[target] = next((folded[c.casefold()] for c in (target, *SPEND_ALIASES[target])
                               if c.casefold() in folded), None)
    missing = [t for t in REQUIRED if fields[t] is None]
    if missing:
        raise ImportFormatError(f"{file} is not a spend file: it has no {missing[0]!r} column "
                                f"(spend needs date, source, amount; columns: {', '.join(names[:30])})",
                                field=missing[0])
    return SpendPlan(names, fields)


def spend_sql(plan: SpendPlan, types: list[pa.DataType], *, file_idx: int, file: str,
              source: str = "_bj_batch") -> tuple[str, dict[str, Any]]:
    """``INSERT INTO _bj_spend SELECT …`` for a batch of spend rows (valid or not)."""
    p = Params()
    expr: dict[str, str] = {}
    for target, index in plan.fields.items():
        if index is None:
            expr[target] = "NULL::VARCHAR"
            continue
        c, t = f"c{index}", types[index]
        if target == "date":
            expr[target] = _date_expr(c, t, file, plan.names[index])
        elif target == "amount":
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
                expr[target] = f"CASE WHEN isfinite({c}::DOUBLE) THEN {c}::DOUBLE END"
            elif is_text(t):
                number = f"try_cast(trim({c}) AS DOUBLE)"
                expr[target] = f"CASE WHEN isfinite({number}) THEN {number} END"
            else:
                raise ImportFormatError(f"{file}: column {plan.names[index]!r} has type {t}; amount must be "
                                        f"a number", field=plan.names[index])
        else:
            text = f"nullif(trim(CAST({c} AS VARCHAR)), '')"
            expr[target] = f"upper({text})" if target == "currency" else text
    shown = {t: "NULL" if i is None else f"to_json(left(CAST(c{i} AS VARCHAR), 100))" for t, i in plan.fields.items()}
    given = {t: "NULL" if i is None else f"nullif(trim(CAST(c{i} AS VARCHAR)), '')" for t, i in plan.fields.items()}
    raw = "'{' || concat_ws(',', " + ", ".join(
        f"to_json({p.add(plan.names[i])}::VARCHAR) || ':' || to_json(left(CAST(c{i} AS VARCHAR), {RAW_EXCERPT}))"
        for i in range(len(plan.names))) + ") || '}'"
    sql = f"""
        INSERT INTO _bj_spend
        WITH a AS (SELECT *, {expr['date']} AS d, {expr['source']} AS s, {expr['campaign']} AS cp,
                          {expr['amount']} AS amt, {expr['currency']} AS cur FROM {source}),
        b AS (SELECT *, CASE
                WHEN pre_reason IS NOT NULL THEN pre_reason
                WHEN {given['date']} IS NULL THEN 'date is missing'
                WHEN d IS NULL THEN 'date: ' || {shown['date']} || ' is not a date (YYYY-MM-DD)'
                WHEN s IS NULL THEN 'source is missing'
                WHEN {given['amount']} IS NULL THEN 'amount is missing'
                WHEN amt IS NULL THEN 'amount: ' || {shown['amount']} || ' is not a number' END AS reason
              FROM a)
        SELECT {file_idx}, seq, line, reason, CASE WHEN reason IS NOT NULL THEN coalesce(left(raw_text, {RAW_EXCERPT}),
               left({raw}, {RAW_EXCERPT * 4})) END, d, s, cp, amt, cur
        FROM b"""
    return sql, p.values


def _date_expr(c: str, t: pa.DataType, file: str, name: str) -> str:
    if pa.types.is_date(t):
        return f"{c}::DATE"
    if pa.types.is_timestamp(t):
        return f"CAST({c} AS DATE)"
    if is_text(t):
        return f"coalesce(try_cast(trim({c}) AS DATE), CAST(try_cast(trim({c}) AS TIMESTAMP) AS DATE))"
    raise ImportFormatError(f"{file}: column {name!r} has type {t}; date must be a date or YYYY-MM-DD text",
                            field=name)


def json_spend_batches(path: Path) -> Iterator[Batch]:
    """Spend rows from JSON Lines: each line an object with the spend fields (values as text)."""
    columns: list[list[Any]] = [[] for _ in SPEND_FIELDS]
    lines: list[int] = []
    reasons: list[str | None] = []
    raws: list[str | None] = []
    seq = done = 0
    with open_binary(path) as handle:
        for number, raw in read_lines(handle):
            done += len(raw or b"")
            if raw is not None and not raw.strip():
                continue
            values, reason = _spend_record(raw)
            for column, value in zip(columns, values, strict=True):
                column.append(value)
            lines.append(number)
            reasons.append(reason)
            raws.append(None if reason is None or raw is None else raw[:RAW_EXCERPT].decode("utf-8", "replace"))
            if len(lines) >= _JSON_ROWS:
                yield Batch(with_book(columns_table(columns, [pa.string()] * 5), seq, lines, reasons, raws), done)
                seq += len(lines)
                columns, lines, reasons, raws = [[] for _ in SPEND_FIELDS], [], [], []
    if lines:
        yield Batch(with_book(columns_table(columns, [pa.string()] * 5), seq, lines, reasons, raws), done)


def _spend_record(raw: bytes | None) -> tuple[list[str | None], str | None]:
    empty: list[str | None] = [None] * len(SPEND_FIELDS)
    if raw is None:
        return empty, "line is larger than 1 MB"
    try:
        obj = loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return empty, "not valid UTF-8"
    except (ValueError, RecursionError):
        return empty, "invalid JSON"
    if not isinstance(obj, dict):
        return empty, "expected a JSON object"
    folded = {str(k).casefold(): v for k, v in reversed(list(obj.items()))}
    values: list[str | None] = []
    for target in SPEND_FIELDS:
        value = next((folded[c.casefold()] for c in (target, *SPEND_ALIASES[target]) if c.casefold() in folded),
                     None)
        if isinstance(value, bool | dict | list):
            return empty, f"{target}: expected text or a number, got {json.dumps(value)[:60]}"
        values.append(None if value is None else value if isinstance(value, str) else repr(value))
    return values, None
