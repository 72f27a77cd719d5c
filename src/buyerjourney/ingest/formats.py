"""Which format a file is in, and opening it (plain or gzip) for reading."""

from __future__ import annotations

import gzip
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from buyerjourney.errors import ImportFormatError, NotFoundError

#: The largest field, JSON line or properties object accepted (bytes); a bigger one rejects its row.
FIELD_CAP = 1_000_000
#: Rejected rows keep this much of their raw content in the rejects report (characters).
RAW_EXCERPT = 1_000

_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".jsonl": "json", ".ndjson": "json", ".json": "json",
    ".parquet": "parquet", ".pq": "parquet",
}


class Format(str, Enum):
    """An input format."""

    csv = "csv"
    json = "json"  # JSON Lines, Segment messages (one per line or in a batch), or one JSON document
    parquet = "parquet"


def check_file(path: Path) -> None:
    """Refuse a path that is missing, a folder, or unreadable; the error names it."""
    if not path.exists():
        raise NotFoundError(f"no such file: {path}", field="file")
    if path.is_dir():
        raise ImportFormatError(f"{path} is a folder, not a file", field="file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ImportFormatError(f"cannot read {path}: {exc.strerror or exc}", field="file") from exc


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic number."""
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_binary(path: Path) -> BinaryIO:
    """Open ``path`` for reading bytes, decompressing it on the fly when it is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def detect_format(path: Path) -> Format:
    """The format of ``path``: from its content where that is certain (Parquet magic), else its name.

    ``.gz`` is looked through (``events.csv.gz`` is CSV); a file with an unknown name is sniffed: a first
    non-blank character ``{`` or ``[`` means JSON, anything else CSV.
    """
    check_file(path)
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == _PARQUET_MAGIC:
        return Format.parquet
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if kind == "parquet":
        raise ImportFormatError(f"{path} is not a Parquet file (no PAR1 magic number)", field="file")
    if kind is not None:
        return Format(kind)
    try:
        with open_binary(path) as handle:
            sample = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except (OSError, EOFError) as exc:
        raise ImportFormatError(f"cannot read {path}: {exc}", field="file") from exc
    return Format.json if sample[:1] in (b"{", b"[") else Format.csv
