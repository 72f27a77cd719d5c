"""Rejected rows: what was wrong, where (file and line), and the rejects file (``--rejects FILE``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from buyerjourney.errors import InputError

REJECT_FIELDS = ("file", "line", "reason", "raw")


@dataclass(frozen=True)
class Reject:
    """One row that was not imported: its file, its line (1-based; ``None`` inside a JSON document) and why."""

    file: str
    line: int | None
    reason: str
    raw: str | None = None

    def where(self) -> str:
        """``file:line`` (or just the file)."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file


def write_rejects(path: Path, rejects: Iterable[Reject]) -> int:
    """Write ``rejects`` to ``path``: CSV when it ends in ``.csv``, else JSON Lines. Returns the count."""
    count = 0
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".csv":
                writer = csv.DictWriter(handle, fieldnames=REJECT_FIELDS, lineterminator="\n")
                writer.writeheader()
                for reject in rejects:
                    writer.writerow(asdict(reject))
                    count += 1
            else:
                for reject in rejects:
                    handle.write(json.dumps(asdict(reject), ensure_ascii=False) + "\n")
                    count += 1
    except OSError as exc:
        raise InputError(f"cannot write rejects to {path}: {exc.strerror or exc}", field="rejects") from exc
    return count
