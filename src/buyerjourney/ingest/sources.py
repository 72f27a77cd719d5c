"""One source per input file: checked when built (before anything is read), then staged batch by batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pyarrow as pa

from buyerjourney.errors import ImportFormatError, StoreError
from buyerjourney.ingest import csv_reader, parquet
from buyerjourney.ingest.batches import Batch
from buyerjourney.ingest.formats import Format, detect_format
from buyerjourney.ingest.jsonl import JsonReader
from buyerjourney.ingest.mapping import CONTRACT, ColumnPlan, KeyPlan, MappingOptions, plan_columns
from buyerjourney.ingest.normalise import Params, SourceShape, events_sql, links_sql, parquet_source
from buyerjourney.ingest.progress import ImportProgress, polled
from buyerjourney.ingest.spend import SPEND_FIELDS, SpendPlan, json_spend_batches, plan_spend, spend_sql
from buyerjourney.ingest.staging import Staging
from buyerjourney.ingest.timestamps import naive_error


class RestartCarefully(Exception):
    """The fast CSV path gave up on ``source``: the import restarts, reading that file carefully."""

    def __init__(self, source: Source) -> None:
        super().__init__(source.file)
        self.source = source


class Source:
    """A file to import: ``stage()`` reads it into the staging tables; ``ts_column`` names its time column."""

    kind = "events"

    def __init__(self, path: Path, file_idx: int) -> None:
        self.path = path
        self.file = str(path)
        self.file_idx = file_idx
        self.format = detect_format(path)
        self.ts_column = "ts"
        self.careful = False  # read CSV with the careful path (set after the fast path gave up)
        self.total: int | None = None
        if self.format is not Format.parquet:
            self.total = path.stat().st_size

    def stage(self, staging: Staging, progress: ImportProgress) -> None:
        """Read the whole file into ``staging``."""
        raise NotImplementedError

    def _run(self, progress: ImportProgress, batches: Iterator[Batch], stage: Callable[[pa.Table], object]) -> None:
        for batch in batches:
            stage(batch.table)
            progress.advanced(batch.done)

    def _csv(self, progress: ImportProgress, layout: csv_reader.CsvLayout, stage: Callable[[pa.Table], object]) -> None:
        if self.careful:
            self._run(progress, csv_reader.careful_batches(self.path, layout), stage)
            return
        try:
            self._run(progress, csv_reader.fast_batches(self.path, layout), stage)
        except csv_reader.NeedsCarefulRead:
            raise RestartCarefully(self) from None


class EventSource(Source):
    """A file of events (CSV, JSON / Segment, Parquet)."""

    def __init__(self, path: Path, file_idx: int, mapping: MappingOptions, timezone: str | None) -> None:
        super().__init__(path, file_idx)
        self.timezone = timezone
        if self.format is Format.csv:
            self.layout: Any = csv_reader.read_layout(path)
            self.plan = plan_columns(self.file, self.layout.names, mapping)
            shape = SourceShape([pa.string()] * len(self.plan.names), text_cells=True)
        elif self.format is Format.parquet:
            self.layout = parquet.read_layout(path)
            self.total = self.layout.rows
            self.plan = plan_columns(self.file, self.layout.names, mapping)
            shape = SourceShape(self.layout.types)
            ts_type = self.layout.types[self.plan.fields["ts"]]
            naive = pa.types.is_date(ts_type) or (pa.types.is_timestamp(ts_type) and ts_type.tz is None)
            if naive and timezone is None:
                raise naive_error(self.file, self.plan.source("ts"), None)
            params = Params()  # read by DuckDB itself: no Python between the file and the store
            source = parquet_source(str(path.resolve()), len(self.layout.names), params)
            self.queries = events_sql(self.plan, shape, file=self.file, timezone=timezone, source=source,
                                      params=params)
            self.ts_column = self.plan.source("ts")
            return
        else:
            self.reader = JsonReader(path, KeyPlan.build(mapping))
            self.reader.preflight()
            self.plan = ColumnPlan(list(CONTRACT), {name: i for i, name in enumerate(CONTRACT)}, [], None)
            shape = SourceShape([pa.string()] * len(CONTRACT), trusted_properties=True, check_sizes=False)
        self.ts_column = self.plan.source("ts")
        self.queries = events_sql(self.plan, shape, file=self.file, timezone=timezone)

    def stage(self, staging: Staging, progress: ImportProgress) -> None:
        """Read the file, batch by batch, into the staged events (and links)."""
        if self.format is Format.csv:
            self._csv(progress, self.layout, lambda table: staging.stage_events(self.file_idx, self.queries,
                                                                                 {"_bj_batch": table}))
        elif self.format is Format.parquet:
            total = self.total or 0

            def watch(start: float, end: float) -> AbstractContextManager[None]:
                return polled(staging.store.query_progress,
                              lambda percent: progress.advanced(int(total * (start + (end - start) * percent / 100))))

            try:
                staging.stage_events(self.file_idx, self.queries, watch=watch, rows=total)
            except StoreError as exc:
                raise ImportFormatError(f"{self.file}: cannot read the Parquet data: {exc.message}",
                                        field="file") from exc
            progress.advanced(self.total or 0)
        else:
            links, link_params = links_sql(file_idx=self.file_idx, timezone=self.timezone)
            for kind, batch in self.reader.read():
                if kind == "events":
                    staging.stage_events(self.file_idx, self.queries, {"_bj_batch": batch.table})
                else:
                    staging.stage(links, link_params, batch.table)
                progress.advanced(batch.done)


class SpendSource(Source):
    """A spend file (CSV, JSON Lines, Parquet)."""

    kind = "spend"

    def __init__(self, path: Path, file_idx: int) -> None:
        super().__init__(path, file_idx)
        self.ts_column = "date"
        if self.format is Format.csv:
            self.layout: Any = csv_reader.read_layout(path)
            self.plan = plan_spend(self.file, self.layout.names)
            types = [pa.string()] * len(self.plan.names)
        elif self.format is Format.parquet:
            self.layout = parquet.read_layout(path)
            self.total = self.layout.rows
            self.plan = plan_spend(self.file, self.layout.names)
            types = self.layout.types
        else:
            self.plan = SpendPlan(list(SPEND_FIELDS), {name: i for i, name in enumerate(SPEND_FIELDS)})
            types = [pa.string()] * len(SPEND_FIELDS)
        self.sql, self.params = spend_sql(self.plan, types, file_idx=file_idx, file=self.file)

    def stage(self, staging: Staging, progress: ImportProgress) -> None:
        """Read the file into the staged spend rows."""
        def stage(table: pa.Table) -> None:
            staging.stage(self.sql, self.params, table)

        if self.format is Format.csv:
            self._csv(progress, self.layout, stage)
        elif self.format is Format.parquet:
            self._run(progress, parquet.batches(self.path), stage)
        else:
            self._run(progress, json_spend_batches(self.path), stage)
