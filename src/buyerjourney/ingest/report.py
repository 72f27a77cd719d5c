"""The import report: per file, rows read, accepted, duplicates, rejected (first reasons), identity links."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from buyerjourney.ingest.rejects import Reject
from buyerjourney.store.identity import IdentityConflict


@dataclass
class FileReport:
    """What happened to one file. ``rows == accepted + duplicates + rejected``."""

    file: str
    kind: str  # events | spend
    format: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    identity_links: int = 0
    identity_conflicts: int = 0
    first_rejects: list[Reject] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """A flat row for table / CSV output."""
        return {"file": self.file, "kind": self.kind, "format": self.format, "rows": self.rows,
                "accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected,
                "identity_links": self.identity_links, "identity_conflicts": self.identity_conflicts}


@dataclass
class ImportReport:
    """What one import did, file by file, and the identity conflicts it brought."""

    files: list[FileReport]
    conflicts: list[IdentityConflict] = field(default_factory=list)
    rejects_file: str | None = None
    refreshed: bool = False
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Rows read, all files."""
        return sum(f.rows for f in self.files)

    @property
    def accepted(self) -> int:
        """Rows added to the store, all files."""
        return sum(f.accepted for f in self.files)

    @property
    def duplicates(self) -> int:
        """Rows already in the store (or repeated in the import), all files."""
        return sum(f.duplicates for f in self.files)

    @property
    def rejected(self) -> int:
        """Rows refused, all files."""
        return sum(f.rejected for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (JSON output)."""
        return {
            "files": [{**f.row(), "first_rejects": [{"line": r.line, "reason": r.reason} for r in f.first_rejects]}
                      for f in self.files],
            "totals": {"rows": self.rows, "accepted": self.accepted, "duplicates": self.duplicates,
                       "rejected": self.rejected},
            "identity_conflicts": [{"id": c.from_id, "kept": c.kept_to_id, "refused": c.rejected_to_id,
                                    "reason": c.reason} for c in self.conflicts],
            "rejects_file": self.rejects_file,
            "refreshed": self.refreshed,
            "seconds": round(self.seconds, 3),
        }
