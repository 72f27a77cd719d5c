"""``import_files``: read files of events and spend into the store, all of them or (on an unreadable one) none."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from buyerjourney.errors import ImportFormatError, InputError
from buyerjourney.ingest.mapping import MappingOptions
from buyerjourney.ingest.progress import ImportProgress, NullProgress
from buyerjourney.ingest.rejects import write_rejects
from buyerjourney.ingest.report import FileReport, ImportReport
from buyerjourney.ingest.sources import EventSource, RestartCarefully, Source, SpendSource
from buyerjourney.ingest.staging import RepeatedIds, Staging
from buyerjourney.ingest.timestamps import check_timezone, naive_error
from buyerjourney.store import DuckDBStore
from buyerjourney.store.identity import IdentityConflict

T = TypeVar("T")


@dataclass(frozen=True)
class ImportOptions:
    """How to read the files: ``--map``, ``--event``, ``--timezone``, ``--rejects``, extra ``--spend`` files."""

    maps: dict[str, str] = field(default_factory=dict)
    event: str | None = None
    timezone: str | None = None
    rejects: Path | None = None
    spend: tuple[Path, ...] = ()
    first_rejects: int = 5


def import_files(store: DuckDBStore, paths: Sequence[str | Path], options: ImportOptions | None = None,
                 progress: ImportProgress | None = None) -> ImportReport:
    """Import ``paths`` (events) and ``options.spend`` (spend) into ``store``, then refresh it once.

    Every file is checked before any is read (missing, not its format, an unknown mapped column: a clear
    error naming the file, and nothing changes). Bad rows are reported with file, line and reason while the
    good rows around them land; a file that proves unreadable half-way, or naive timestamps without
    ``timezone``, abort the whole import before anything is written. Re-importing adds nothing.
    """
    started = time.perf_counter()
    options = options or ImportOptions()
    progress = progress or NullProgress()
    timezone = check_timezone(options.timezone)
    mapping = MappingOptions(dict(options.maps), options.event)
    if not paths and not options.spend:
        raise InputError("nothing to import: give one or more FILEs (or --spend FILE)", field="file")
    if options.rejects is not None and not options.rejects.parent.exists():
        raise InputError(f"cannot write rejects to {options.rejects}: no folder {options.rejects.parent}",
                         field="rejects")
    sources: list[Source] = [_unbroken(Path(p), lambda p=p, i=i: EventSource(Path(p), i, mapping, timezone))
                             for i, p in enumerate(paths)]
    sources += [_unbroken(Path(p), lambda p=p, i=i: SpendSource(Path(p), len(paths) + i))
                for i, p in enumerate(options.spend)]
    files = [s.file for s in sources]
    staging: Staging | None = None
    careful = False
    try:
        while True:
            staging = Staging(store, careful=careful)
            try:
                with store.transaction():
                    _read_all(sources, staging, progress, timezone)
                    progress.phase("writing to the store")
                    staging.finish()
                break
            except RestartCarefully as restart:  # a CSV file needs the careful reader: start again
                restart.source.careful = True
                staging.close()
            except RepeatedIds:  # an event id occurs twice in the files: start again, keeping the first
                careful = True
                staging.close()
        before = _known_conflicts(store)
        conflicts: list[IdentityConflict] = []
        refreshed = store.needs_refresh
        if refreshed:
            progress.phase("resolving identities and clustering events")
            conflicts = [c for c in store.refresh() if (c.from_id, c.kept_to_id, c.rejected_to_id) not in before]
        per_file_conflicts = staging.conflict_files(conflicts)
        first_rejects = staging.first_rejects(files, options.first_rejects)
        reports = []
        for source in sources:
            tally = staging.tally(source.file_idx)
            reports.append(FileReport(
                source.file, source.kind, source.format.value, rows=tally.rows, accepted=tally.inserted,
                duplicates=tally.duplicates, rejected=tally.rejected, identity_links=tally.identity_links,
                identity_conflicts=per_file_conflicts.get(source.file_idx, 0),
                first_rejects=first_rejects.get(source.file_idx, [])))
        if options.rejects is not None:
            write_rejects(options.rejects, staging.rejects(files))
    finally:
        if staging is not None:
            staging.close()
    return ImportReport(reports, conflicts, None if options.rejects is None else str(options.rejects), refreshed,
                        time.perf_counter() - started)


def _read_all(sources: list[Source], staging: Staging, progress: ImportProgress, timezone: str | None) -> None:
    """Stage every file; refuse naive timestamps (no time zone given) as soon as a file shows one."""
    for source in sources:
        progress.file_started(f"{source.kind} {source.path.name}", source.total)
        _unbroken(source.path, lambda source=source: source.stage(staging, progress))
        progress.file_finished()
        naive = staging.first_naive()
        if naive and timezone is None:
            first = min(naive)
            raise naive_error(sources[first].file, sources[first].ts_column, naive[first])


def _unbroken(path: Path, read: Callable[[], T]) -> T:
    """Run ``read``; a file that breaks while being read (truncated gzip, I/O error) becomes ImportFormatError."""
    try:
        return read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportFormatError(f"{path}: cannot read the file: {exc}", field="file") from exc


def _known_conflicts(store: DuckDBStore) -> set[tuple[str, str, str]]:
    rows = store.query("SELECT from_id, kept_to_id, rejected_to_id FROM identity_conflicts").to_pylist()
    return {(r["from_id"], r["kept_to_id"], r["rejected_to_id"]) for r in rows}
