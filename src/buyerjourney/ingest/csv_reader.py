"""CSV: a fast path (pyarrow's streaming parser, vectorised) and a careful path for broken files.

The fast path reads every cell as text in blocks, and computes each row's line number from the rows before
it (a quoted value with line breaks spans several lines). It gives up on a structural problem (a row with
the wrong number of fields, invalid UTF-8, a blank line in the middle that would shift line numbers); the
file is then read again by the careful path (Python's ``csv`` module, exact line numbers, one reason per bad
row). Either way, typing and validation happen in SQL (:mod:`buyerjourney.ingest.normalise`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from buyerjourney.errors import ImportFormatError
from buyerjourney.ingest.batches import Batch, columns_table, with_book
from buyerjourney.ingest.formats import RAW_EXCERPT, open_binary
from buyerjourney.ingest.mapping import unique_names

_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 64 << 20
_CAREFUL_ROWS = 50_000
csv.field_size_limit(1 << 30)  # fields over FIELD_CAP are rejected by the importer, with their line


class NeedsCarefulRead(Exception):
    """The fast path met something it cannot place exactly; read the file with the careful path."""


@dataclass(frozen=True)
class CsvLayout:
    """A CSV file's header (unique names), delimiter and how many physical lines the header takes."""

    names: list[str]
    delimiter: str
    header_lines: int


def read_layout(path: Path) -> CsvLayout:
    """Read the header of a CSV file; refuse a file that is empty, binary or not UTF-8."""
    try:
        with open_binary(path) as raw:
            head = raw.read(1 << 20)
    except (OSError, EOFError) as exc:
        raise ImportFormatError(f"cannot read {path}: {exc}", field="file") from exc
    if not head.strip():
        raise ImportFormatError(f"{path} is empty: a CSV file needs a header line", field="file")
    if b"\x00" in head.split(b"\n", 1)[0]:
        raise ImportFormatError(f"{path} is not a CSV text file (binary content)", field="file")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            first_line_end = head.find(b"\n")
            if first_line_end < 0 or exc.start < first_line_end:
                raise ImportFormatError(f"{path} is not a UTF-8 CSV file (header line)", field="file") from None
        text = head[:exc.start].decode("utf-8-sig")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if path.name.lower().rstrip(".gz").endswith(".tsv") else max(
        _DELIMITERS, key=lambda d: (first_line.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise ImportFormatError(f"{path}: cannot read the CSV header: {exc}", field="file") from None
    if not any(h.strip() for h in header):
        raise ImportFormatError(f"{path}: the first line is blank; a CSV file needs a header line", field="file")
    return CsvLayout(unique_names(header), delimiter, reader.line_num)


class _Watch(io.RawIOBase):
    """A byte stream that counts what was read and notes a blank line followed by more content."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.read_bytes = 0
        self._tail = b""
        self._blank_seen = False
        self.blank_inside = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.read_bytes += n
        if n:
            self._watch(data)
        return n

    def _watch(self, data: bytes) -> None:
        if self.blank_inside:
            return
        window = self._tail + data
        if self._blank_seen:
            if window.strip():
                self.blank_inside = True
        else:
            at = min((i for i in (window.find(b"\n\n"), window.find(b"\n\r\n")) if i >= 0), default=-1)
            if at >= 0:
                self._blank_seen = True
                if window[at:].strip():
                    self.blank_inside = True
        self._tail = data[-2:]


def _extra_lines(table: pa.Table) -> np.ndarray:
    """Per row, how many line breaks its values hold (a quoted value can span lines)."""
    extra = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        counts = pc.count_substring(column, "\n")
        if pc.max(counts).as_py():
            extra += counts.to_numpy(zero_copy_only=False)
    return extra


def fast_batches(path: Path, layout: CsvLayout) -> Iterator[Batch]:
    """Blocks of rows as text columns ``c0``…, with exact line numbers; raises :class:`NeedsCarefulRead`."""
    names = [f"c{i}" for i in range(len(layout.names))]
    with open_binary(path) as raw:
        watch = _Watch(raw)
        stream = io.BufferedReader(watch, buffer_size=1 << 20)
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK,
                                               use_threads=True),
                parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=True,
                                                 ignore_empty_lines=True),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False))
            seq, line = 0, layout.header_lines + 1
            for record_batch in reader:
                table = pa.Table.from_batches([record_batch])
                extra = _extra_lines(table)
                starts = line + np.arange(table.num_rows, dtype=np.int64)
                if extra.any():
                    starts += np.concatenate(([0], np.cumsum(extra)[:-1]))
                line = int(starts[-1] + extra[-1] + 1) if table.num_rows else line
                if watch.blank_inside:
                    raise NeedsCarefulRead("blank line inside the file")
                yield Batch(with_book(table, seq, pa.array(starts)), watch.read_bytes)
                seq += table.num_rows
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise NeedsCarefulRead(str(exc)) from exc
        if watch.blank_inside:
            raise NeedsCarefulRead("blank line inside the file")


def careful_batches(path: Path, layout: CsvLayout) -> Iterator[Batch]:
    """Rows via Python's csv module: exact lines; wrong field counts and bad bytes become reasons."""
    width = len(layout.names)
    with open_binary(path) as raw:
        counting = _Watch(raw)
        text = io.TextIOWrapper(io.BufferedReader(counting), encoding="utf-8-sig", errors="surrogateescape",
                                newline="")
        reader = csv.reader(text, delimiter=layout.delimiter)
        try:
            next(reader)
        except (StopIteration, csv.Error):
            return
        seq = 0
        rows: list[list[str] | None] = []
        lines: list[int] = []
        reasons: list[str | None] = []
        raws: list[str | None] = []
        previous = reader.line_num
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                lines.append(previous + 1)
                rows.append(None)
                reasons.append(f"malformed CSV: {exc}")
                raws.append(None)
                previous = reader.line_num
                continue
            start, previous = previous + 1, reader.line_num
            if not record:
                continue
            reason = _record_problem(record, width)
            rows.append(None if reason else record)
            lines.append(start)
            reasons.append(reason)
            raws.append(_excerpt(layout.delimiter.join(record)) if reason else None)
            if len(rows) >= _CAREFUL_ROWS:
                yield Batch(_careful_table(rows, lines, reasons, raws, width, seq), counting.read_bytes)
                seq += len(rows)
                rows, lines, reasons, raws = [], [], [], []
        if rows:
            yield Batch(_careful_table(rows, lines, reasons, raws, width, seq), counting.read_bytes)


def _record_problem(record: list[str], width: int) -> str | None:
    if len(record) != width:
        return f"expected {width} fields, found {len(record)}"
    for value in record:  # sizes are checked with the other rows, in SQL
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "not valid UTF-8"
    return None


def _excerpt(text: str) -> str:
    return text[:RAW_EXCERPT].encode("utf-8", "replace").decode("utf-8")


def _careful_table(rows: list[list[str] | None], lines: list[int], reasons: list[str | None],
                   raws: list[str | None], width: int, seq: int) -> pa.Table:
    columns = [[None if row is None else row[i] for row in rows] for i in range(width)]
    table = columns_table(columns, [pa.string()] * width)
    return with_book(table, seq, lines, reasons, raws)
