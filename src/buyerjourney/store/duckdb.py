"""The embedded event store: one DuckDB file.

Tables (schema version in ``meta``):

- ``events_raw``: every accepted event exactly as imported, in arrival order (append-only, deduplicated on
  ``event_id``, never rewritten). This is the source of truth: nothing accepted is ever lost. Its id
  columns are stored uncompressed: they are nearly unique, so compressing them costs more at import than
  it saves.
- ``identities``: identify / alias links; ``identity_conflicts``: links that were refused.
- ``traits``: identify traits; ``spend``: marketing spend.
- ``entities`` and ``event_names``: dictionaries mapping ids and names to dense integers; ``entity_ids``
  maps every id an event was filed under (its ``entity_id``, else its ``anonymous_id``) to its entity.
- ``event_index``: derived by :meth:`DuckDBStore.refresh`: one narrow row per event,
  ``(entity_key, ts, event_key, raw_row)``, clustered by (entity_key, ts, event_key) with ties in event_id
  order (see :mod:`buyerjourney.store.ties`), so that the funnel engine streams each
  entity's events in time order without sorting at query time. ``raw_row`` is the event's ``rowid`` in
  ``events_raw``, where its id and properties stay.
- ``events``: a view of ``events_raw`` with identities resolved (``entity_key``, ``entity_id``) and names
  encoded, for analyses that need no order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from buyerjourney.errors import NotFoundError, StoreError
from buyerjourney.events import EVENT_SCHEMA, IDENTITY_SCHEMA, SPEND_SCHEMA, TRAITS_SCHEMA
from buyerjourney.store.identity import IdentityConflict, resolve_identities
from buyerjourney.store.ties import order_index_ties

SCHEMA_VERSION = 2
#: Columns of the clustered ``event_index`` table, in its sort order.
INDEX_COLUMNS = ("entity_key", "ts", "event_key", "raw_row")
DEFAULT_DB = "buyerjourney.duckdb"


def default_db_path() -> Path:
    """The store used when no ``--db`` is given: ``$BUYERJOURNEY_DB`` or ``./buyerjourney.duckdb``."""
    return Path(os.environ.get("BUYERJOURNEY_DB") or DEFAULT_DB)


@dataclass(frozen=True)
class AppendResult:
    """How many rows an append added, and how many it skipped as already present."""

    inserted: int
    duplicates: int


@dataclass(frozen=True)
class StoreInfo:
    """What a store holds."""

    path: str
    schema_version: int
    events: int
    entities: int
    identified_entities: int
    first_ts: Any
    last_ts: Any
    event_counts: dict[str, int] = field(default_factory=dict)
    identity_links: int = 0
    identity_conflicts: int = 0
    spend_rows: int = 0
    spend_total: float = 0.0
    needs_refresh: bool = False


_V1 = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS events_raw (
        event_id VARCHAR NOT NULL, entity_id VARCHAR, anonymous_id VARCHAR, account_id VARCHAR,
        event VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, properties JSON)""",
    """CREATE TABLE IF NOT EXISTS identities (
        from_id VARCHAR NOT NULL, to_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL,
        kind VARCHAR NOT NULL, message_id VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS identity_conflicts (
        from_id VARCHAR, kept_to_id VARCHAR, rejected_to_id VARCHAR, reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS traits (
        entity_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, traits JSON, message_id VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS spend (
        date DATE NOT NULL, source VARCHAR NOT NULL, campaign VARCHAR, amount DOUBLE NOT NULL,
        currency VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS entities (
        entity_key INTEGER, entity_id VARCHAR, identified BOOLEAN)""",
    "CREATE TABLE IF NOT EXISTS event_names (event_key INTEGER, event VARCHAR, events BIGINT)",
    """CREATE TABLE IF NOT EXISTS events (
        entity_key INTEGER, ts TIMESTAMPTZ, event_key INTEGER, entity_id VARCHAR, event VARCHAR,
        event_id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR, account_id VARCHAR, properties JSON)""",
]

_UNCOMPRESSED = "USING COMPRESSION uncompressed"
# Derived tables, rebuilt by every refresh. Columns of nearly unique values are kept uncompressed: writing
# them compressed costs more than reading them back uncompressed.
_U = _UNCOMPRESSED
_ENTITIES = f"entities (entity_key INTEGER, entity_id VARCHAR {_U}, identified BOOLEAN)"
_ENTITY_IDS = f"entity_ids (id VARCHAR {_U}, entity_key INTEGER, entity_id VARCHAR {_U})"
_EVENT_INDEX = f"event_index (entity_key INTEGER, ts TIMESTAMPTZ {_U}, event_key INTEGER, raw_row BIGINT {_U})"
_V2 = [
    f"""CREATE TABLE events_raw_v2 (
        event_id VARCHAR NOT NULL {_UNCOMPRESSED}, entity_id VARCHAR {_UNCOMPRESSED},
        anonymous_id VARCHAR {_UNCOMPRESSED}, account_id VARCHAR, event VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL,
        properties JSON)""",
    "INSERT INTO events_raw_v2 SELECT * FROM events_raw",
    "DROP TABLE events_raw",
    "ALTER TABLE events_raw_v2 RENAME TO events_raw",
    "DROP TABLE events",
    "DROP TABLE entities",
    f"CREATE TABLE {_ENTITIES}",
    f"CREATE TABLE {_ENTITY_IDS}",
    f"CREATE TABLE {_EVENT_INDEX}",
    """CREATE VIEW events AS
        SELECT m.entity_key, r.ts, n.event_key, m.entity_id, r.event, r.event_id, r.entity_id AS user_id,
               r.anonymous_id, r.account_id, r.properties, r.rowid AS raw_row
        FROM events_raw r
        JOIN entity_ids m ON m.id = coalesce(r.entity_id, r.anonymous_id)
        JOIN event_names n ON n.event = r.event""",
    # the index of a migrated store's events is built by the next refresh
    "INSERT OR REPLACE INTO meta SELECT 'dirty', '1' WHERE EXISTS (SELECT 1 FROM events_raw)",
]

#: ``MIGRATIONS[v]`` brings a store from version ``v`` to ``v + 1``.
MIGRATIONS: list[list[str]] = [_V1, _V2]


class _OlderSchema(Exception):
    """A store opened read-only has an older schema: it is upgraded first."""


class DuckDBStore:
    """An event store in one DuckDB file (or ``:memory:``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self.con = con
        self.path = path

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, *, read_only: bool = False,
             create: bool = True) -> DuckDBStore:
        """Open (and create or migrate) the store at ``path``; ``None`` means the default path."""
        target = str(path if path is not None else default_db_path())
        if target != ":memory:":
            if not Path(target).exists() and (read_only or not create):
                raise NotFoundError(f"no store at {target}: import events first (buyerjourney import FILE)",
                                    field="db")
            if Path(target).is_dir():
                raise StoreError(f"{target} is a folder, not a DuckDB file", field="db")
        try:
            con = duckdb.connect(target, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {target}: {_first_line(exc)}", field="db") from exc
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # commands draw their own progress (rich)
        store = cls(con, target)
        try:
            store._migrate(read_only=read_only)
        except _OlderSchema:
            con.close()
            try:  # upgraded in place (once), then opened for reading as asked
                with cls.open(target) as writable:
                    if writable.needs_refresh:
                        writable.refresh()
            except StoreError as exc:
                raise StoreError(f"store {target} has an older schema and could not be upgraded: {exc.message}",
                                 field="db") from exc
            return cls.open(target, read_only=True)
        return store

    def close(self) -> None:
        """Close the connection (checkpointing the file)."""
        self.con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self, *, read_only: bool) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {version}; this buyerjourney "
                             f"reads up to {SCHEMA_VERSION}: upgrade buyerjourney", field="db")
        if version == SCHEMA_VERSION:
            return
        if read_only:
            raise _OlderSchema()
        for reached, step in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in step:
                    self.con.execute(statement)
                self._set_meta("schema_version", str(reached))  # with the step: a crash cannot apply it twice

    @property
    def schema_version(self) -> int:
        """The schema version written in the file (0 for a new file)."""
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchone()[0]
        if not exists:
            return 0
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        return int(rows[0][0]) if rows else 0

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def _get_meta(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()  # fetchone leaves it open
        return rows[0][0] if rows else None

    # -- writes ----------------------------------------------------------------------------------
    def append_events(self, table: pa.Table, *, ids_are_new: bool = False) -> AppendResult:
        """Add events (columns of :data:`EVENT_SCHEMA`); rows whose ``event_id`` is present are skipped.

        ``ids_are_new`` is for a producer that guarantees unique ids never stored before (the demo
        generator filling a fresh store): it skips the duplicate check, whose cost grows with the store.
        Call :meth:`refresh` after a batch of appends so queries see them.
        """
        staged = table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
        select = ("SELECT event_id, entity_id, anonymous_id, account_id, event, ts, properties::JSON "
                  "FROM _staged_events s")
        if not ids_are_new:
            select += """
                WHERE NOT EXISTS (SELECT 1 FROM events_raw r WHERE r.event_id = s.event_id)
                QUALIFY row_number() OVER (PARTITION BY s.event_id) = 1"""
        with self._registered({"_staged_events": staged}), self.transaction():
            before = self._count("events_raw")
            self.con.execute("INSERT INTO events_raw " + select)
            inserted = self._count("events_raw") - before
            if inserted:
                self._set_meta("dirty", "1")
        return AppendResult(inserted, staged.num_rows - inserted)

    def append_identities(self, table: pa.Table) -> AppendResult:
        """Add identity links (columns of :data:`IDENTITY_SCHEMA`), skipping known ``message_id``s."""
        return self._append_unique("identities", table.select(IDENTITY_SCHEMA.names).cast(IDENTITY_SCHEMA),
                                   "message_id")

    def append_traits(self, table: pa.Table) -> AppendResult:
        """Add identify traits (columns of :data:`TRAITS_SCHEMA`), skipping known ``message_id``s."""
        return self._append_unique("traits", table.select(TRAITS_SCHEMA.names).cast(TRAITS_SCHEMA),
                                   "message_id")

    def append_spend(self, table: pa.Table) -> AppendResult:
        """Add spend rows (columns of :data:`SPEND_SCHEMA`); an identical row already present is skipped."""
        staged = table.select(SPEND_SCHEMA.names).cast(SPEND_SCHEMA)
        with self._registered({"_staged": staged}):
            before = self._count("spend")
            self.con.execute("""
                INSERT INTO spend SELECT DISTINCT * FROM _staged s WHERE NOT EXISTS (
                    SELECT 1 FROM spend p WHERE p.date = s.date AND p.source = s.source
                    AND p.campaign IS NOT DISTINCT FROM s.campaign AND p.amount = s.amount
                    AND p.currency IS NOT DISTINCT FROM s.currency)""")
            inserted = self._count("spend") - before
        return AppendResult(inserted, staged.num_rows - inserted)

    def _append_unique(self, name: str, staged: pa.Table, key: str) -> AppendResult:
        with self._registered({"_staged": staged}):
            before = self._count(name)
            self.con.execute(f"""
                INSERT INTO {name} SELECT * FROM _staged s
                WHERE NOT EXISTS (SELECT 1 FROM {name} t WHERE t.{key} = s.{key})
                QUALIFY row_number() OVER (PARTITION BY s.{key}) = 1""")
            inserted = self._count(name) - before
            if inserted and name == "identities":
                self._set_meta("dirty", "1")
        return AppendResult(inserted, staged.num_rows - inserted)

    @contextmanager
    def _registered(self, tables: Mapping[str, pa.Table] | None) -> Iterator[None]:
        """Arrow ``tables`` readable under their names for the enclosed statements."""
        registered = dict(tables or {})
        for name, table in registered.items():
            self.con.register(name, table)
        try:
            yield
        finally:
            for name in registered:
                self.con.unregister(name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the enclosed writes as one transaction: all of them land, or (on any error) none."""
        self.con.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def run(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None,
            tables: Mapping[str, pa.Table] | None = None) -> list[tuple[Any, ...]]:
        """Run a write statement with Arrow ``tables`` registered under their names (bulk paths, e.g. importers).

        SQL text is the caller's own; user values go in ``params``. Returns the statement's rows (an
        ``INSERT`` gives ``[(rows inserted,)]``); read query results with :meth:`query`.
        """
        with self._registered(tables):
            try:
                return self.con.execute(sql, params or None).fetchall()  # fetched, so unregister() is not blocked
            except duckdb.Error as exc:
                raise StoreError(f"store statement failed: {_first_line(exc)}") from exc

    def query_progress(self) -> float:
        """Percent done of the statement running on this store (-1 when none); safe from another thread."""
        return float(self.con.query_progress())

    def mark_changed(self) -> None:
        """Note that events or identities were written by a bulk path, so :meth:`refresh` must run."""
        self._set_meta("dirty", "1")

    def _count(self, table: str) -> int:
        # fetchall, not fetchone: an unfinished result blocks unregister() on DuckDB 2.0
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    # -- derived, clustered tables ---------------------------------------------------------------
    @property
    def needs_refresh(self) -> bool:
        """True when events or identities were added since the last :meth:`refresh`."""
        return self._get_meta("dirty") == "1"

    def refresh(self, progress: Callable[[str], None] | None = None) -> list[IdentityConflict]:
        """Resolve identities, rebuild the dictionaries and the clustered ``event_index``.

        Returns the identity conflicts found (also kept in ``identity_conflicts``).
        """
        say = progress or (lambda _msg: None)
        say("resolving identities")
        # Two passes over the events: the links their (anonymous_id, entity_id) pairs make, and every id an
        # event is filed under (its entity_id, else its anonymous_id); the rest works on these smaller tables.
        self.con.execute("""
            CREATE OR REPLACE TEMP TABLE _pairs AS
            SELECT anonymous_id, entity_id, min(ts) AS ts FROM events_raw
            WHERE anonymous_id IS NOT NULL AND entity_id IS NOT NULL AND anonymous_id <> entity_id
            GROUP BY ALL""")
        self.con.execute("""
            CREATE OR REPLACE TEMP TABLE _ids AS
            SELECT coalesce(entity_id, anonymous_id) AS id, bool_or(entity_id IS NOT NULL) AS known
            FROM events_raw GROUP BY 1""")
        try:
            return self._rebuild(say)
        finally:
            for scratch in ("_pairs", "_ids", "_links", "_id_map", "_filed"):
                self.con.execute(f"DROP TABLE IF EXISTS {scratch}")

    def _rebuild(self, say: Callable[[str], None]) -> list[IdentityConflict]:
        self.con.execute("""
            CREATE OR REPLACE TEMP TABLE _links AS
            SELECT from_id, to_id, ts FROM identities
            UNION ALL
            SELECT anonymous_id, entity_id, ts FROM _pairs""")
        # An id with links to one entity only, which is itself linked nowhere and links nowhere, resolves to
        # that entity whatever the order: mapped here in bulk; every other link goes through the rules of
        # resolve_identities (earliest link wins, chains, cycles), which such simple links cannot affect.
        self.con.execute("""
            CREATE OR REPLACE TEMP TABLE _id_map AS
            SELECT from_id, any_value(to_id) AS root_id FROM _links
            WHERE from_id NOT IN (SELECT to_id FROM _links)
            GROUP BY from_id
            HAVING count(DISTINCT to_id) = 1
               AND any_value(to_id) NOT IN (SELECT from_id FROM _links)""")
        rest = self.con.sql("""SELECT from_id, to_id, ts FROM _links
                               WHERE from_id NOT IN (SELECT from_id FROM _id_map)""").to_arrow_table()
        self.con.execute("DROP TABLE _links")
        roots, conflicts = resolve_identities(rest)
        if roots:  # parameters, not an Arrow table: building one from Python lists makes pyarrow import pandas
            self.con.execute("INSERT INTO _id_map SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                             [list(roots), list(roots.values())])
        with self.transaction():
            self.con.execute("DELETE FROM identity_conflicts")
            if conflicts:
                self.con.executemany("INSERT INTO identity_conflicts VALUES (?, ?, ?, ?)",
                                     [[c.from_id, c.kept_to_id, c.rejected_to_id, c.reason] for c in conflicts])
            say("building the entity dictionary")
            # An event belongs to the root of the id it was filed under (its entity_id, else its anonymous_id).
            self.con.execute("""
                CREATE OR REPLACE TEMP TABLE _filed AS
                SELECT p.id, coalesce(m.root_id, p.id) AS rid, p.known OR m.root_id IS NOT NULL AS known
                FROM _ids p LEFT JOIN _id_map m ON m.from_id = p.id""")
            self.con.execute(f"CREATE OR REPLACE TABLE {_ENTITIES}")
            self.con.execute("""
                INSERT INTO entities
                SELECT (row_number() OVER (ORDER BY rid) - 1)::INTEGER, rid, bool_or(known) FROM _filed
                GROUP BY rid ORDER BY 1""")
            self.con.execute(f"CREATE OR REPLACE TABLE {_ENTITY_IDS}")
            self.con.execute("""
                INSERT INTO entity_ids
                SELECT f.id, e.entity_key, e.entity_id FROM _filed f JOIN entities e ON e.entity_id = f.rid""")
            self.con.execute("DROP TABLE _filed")
            self.con.execute("""
                CREATE OR REPLACE TABLE event_names AS
                SELECT (row_number() OVER (ORDER BY event) - 1)::INTEGER AS event_key, event, count(*) AS events
                FROM events_raw GROUP BY event""")
            say("clustering events by (entity, time)")
            self.con.execute(f"CREATE OR REPLACE TABLE {_EVENT_INDEX}")
            self.con.execute("""
                INSERT INTO event_index
                SELECT m.entity_key, r.ts, n.event_key, r.rowid AS raw_row
                FROM events_raw r
                JOIN entity_ids m ON m.id = coalesce(r.entity_id, r.anonymous_id)
                JOIN event_names n ON n.event = r.event
                ORDER BY m.entity_key, r.ts, n.event_key""")
            order_index_ties(self.con)
            self._set_meta("dirty", "0")
        return conflicts

    # -- reads -----------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None,
              tables: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """Run a read query (with ``?`` / ``$name`` parameters, never string-built values) into Arrow.

        ``tables`` are Arrow tables the query may read, registered under their names for its duration.
        """
        with self._registered(tables):
            try:
                return self.con.sql(sql, params=params or None).to_arrow_table()
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {_first_line(exc)}") from exc

    def column(self, sql: str, params: Sequence[Any] | None = None) -> np.ndarray:
        """The first column of a read query's result as one NumPy array (cheaper than Arrow for big numbers)."""
        try:
            result = self.con.execute(sql, params or None).fetchnumpy()
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {_first_line(exc)}") from exc
        return np.asarray(next(iter(result.values())))

    def event_names(self) -> dict[str, int]:
        """Event name -> event_key, from the dictionary built by :meth:`refresh`."""
        return dict(self.con.execute("SELECT event, event_key FROM event_names").fetchall())

    def scan(self, columns: Sequence[str] = INDEX_COLUMNS, event_keys: Sequence[int] | None = None,
             batch_size: int = 1 << 20) -> Iterator[pa.RecordBatch]:
        """Stream ``columns`` of ``event_index`` in its (entity_key, ts, event_key) order, optionally only
        some events. The table is stored in that order, so nothing is sorted here.

        Every batch is a run of whole rows in storage order; an entity may span two batches.
        """
        unknown = [c for c in columns if c not in INDEX_COLUMNS]
        if unknown:
            raise NotFoundError(f"unknown event index column {unknown[0]!r}", field="columns")
        sql = f"SELECT {', '.join(columns)} FROM event_index"
        params: list[Any] = []
        if event_keys is not None:
            sql += " WHERE list_contains(?, event_key)"  # a scalar filter keeps the scan order
            params = [list(event_keys)]
        try:
            reader = self.con.sql(sql, params=params or None).to_arrow_reader(batch_size)
        except duckdb.Error as exc:
            raise StoreError(f"event index scan failed: {_first_line(exc)}") from exc
        yield from reader

    def info(self) -> StoreInfo:
        """Counts and ranges of what the store holds."""
        events, first_ts, last_ts = self.con.execute(
            "SELECT count(*), min(ts), max(ts) FROM events_raw").fetchone()
        entities, identified = self.con.execute(
            "SELECT count(*), count(*) FILTER (identified) FROM entities").fetchone()
        event_counts = dict(self.con.execute(
            "SELECT event, count(*) FROM events_raw GROUP BY event ORDER BY count(*) DESC, event").fetchall())
        spend_rows, spend_total = self.con.execute(
            "SELECT count(*), coalesce(sum(amount), 0) FROM spend").fetchone()
        return StoreInfo(
            path=self.path, schema_version=self.schema_version, events=int(events), entities=int(entities),
            identified_entities=int(identified), first_ts=first_ts, last_ts=last_ts,
            event_counts={k: int(v) for k, v in event_counts.items()},
            identity_links=self._count("identities"), identity_conflicts=self._count("identity_conflicts"),
            spend_rows=int(spend_rows), spend_total=float(spend_total), needs_refresh=self.needs_refresh)


def open_store(path: str | Path | None = None, *, read_only: bool = False) -> DuckDBStore:
    """Open the store at ``path`` (default :func:`default_db_path`)."""
    return DuckDBStore.open(path, read_only=read_only)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
