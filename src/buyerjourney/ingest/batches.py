"""What every reader yields: Arrow batches of source rows with their place in the file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

#: Bookkeeping columns every batch carries besides its source columns ``c0``, ``c1``…
BOOK_COLUMNS = ("seq", "line", "pre_reason", "raw_text")


@dataclass(frozen=True)
class Batch:
    """Source rows: columns ``c0``… then :data:`BOOK_COLUMNS`; ``done`` is how far into the file (progress units)."""

    table: pa.Table
    done: int


def positional(table: pa.Table) -> pa.Table:
    """Rename a table's columns to ``c0``, ``c1``… (file column names never enter SQL text)."""
    return table.rename_columns([f"c{i}" for i in range(table.num_columns)])


def with_book(table: pa.Table, seq_start: int, lines: pa.Array | Sequence[int | None],
              pre_reason: Sequence[str | None] | None = None, raw_text: Sequence[str | None] | None = None) -> pa.Table:
    """Add the bookkeeping columns to a positional table (``seq`` counts rows from 0 across the file)."""
    n = table.num_rows
    seq = pa.array(range(seq_start, seq_start + n), pa.int64())
    line = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.int64())
    pre = pa.nulls(n, pa.string()) if pre_reason is None else pa.array(pre_reason, pa.string())
    raw = pa.nulls(n, pa.string()) if raw_text is None else pa.array(raw_text, pa.string())
    return table.append_column("seq", seq).append_column("line", line.cast(pa.int64())) \
        .append_column("pre_reason", pre).append_column("raw_text", raw)


def columns_table(columns: Sequence[Sequence[Any]], types: Sequence[pa.DataType]) -> pa.Table:
    """A positional table from Python column lists."""
    pairs = enumerate(zip(columns, types, strict=True))
    return pa.table({f"c{i}": pa.array(values, type=t) for i, (values, t) in pairs})
