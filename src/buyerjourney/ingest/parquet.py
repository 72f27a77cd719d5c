"""Parquet: typed columns straight into Arrow batches (no Python row loop)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from buyerjourney.errors import ImportFormatError
from buyerjourney.ingest.batches import Batch, positional, with_book
from buyerjourney.ingest.mapping import unique_names

BATCH_ROWS = 1 << 20


@dataclass(frozen=True)
class ParquetLayout:
    """A Parquet file's columns (unique names), their Arrow types, and its row count."""

    names: list[str]
    types: list[pa.DataType]
    rows: int


def read_layout(path: Path) -> ParquetLayout:
    """Open the file's footer; refuse a file that is not readable Parquet."""
    try:
        meta = pq.ParquetFile(path)
        schema = meta.schema_arrow
        rows = meta.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise ImportFormatError(f"{path} is not a readable Parquet file: {exc}", field="file") from exc
    return ParquetLayout(unique_names(schema.names), list(schema.types), rows)


def batches(path: Path, rows_per_batch: int = BATCH_ROWS) -> Iterator[Batch]:
    """Batches of rows as positional columns; ``line`` is the row number in the file (from 1)."""
    try:
        reader = pq.ParquetFile(path)
        seq = 0
        for record_batch in reader.iter_batches(batch_size=rows_per_batch, use_threads=True):
            table = positional(pa.Table.from_batches([record_batch]))
            n = table.num_rows
            yield Batch(with_book(table, seq, pa.array(range(seq + 1, seq + n + 1), pa.int64())), seq + n)
            seq += n
    except (pa.ArrowException, OSError) as exc:
        raise ImportFormatError(f"{path}: cannot read the Parquet data: {exc}", field="file") from exc
