"""Staging: how batches reach the store, inside the one transaction of an import.

Events go straight into ``events_raw`` batch by batch (good rows only; ids already stored, or seen earlier in
the import, are skipped: the first occurrence in file order wins). Rejected rows, identity links and spend
rows wait in temporary tables; links and spend are moved into the store at the end. The caller wraps it
all in :meth:`DuckDBStore.transaction`, so a file that proves unreadable half-way writes nothing.

Two ways to stage events. The fast one (the default) writes each batch in one pass: its good rows, minus
ids already stored; only a batch that lost rows is read again to find its rejects. At the end one check
looks for an id repeated inside the import; if there is one, :class:`RepeatedIds` asks the importer to
start again carefully: then every batch is checked first and only the first occurrence of an id is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerjourney.ingest.normalise import EventsSql
from buyerjourney.ingest.rejects import Reject
from buyerjourney.ingest.timestamps import NAIVE_REASON
from buyerjourney.store import DuckDBStore
from buyerjourney.store.identity import IdentityConflict

_BOOK = "file_idx INTEGER, seq BIGINT, line BIGINT, reason VARCHAR, raw VARCHAR"
_TABLES = {
    "_bj_rejects": _BOOK,
    "_bj_links": f"{_BOOK}, kind VARCHAR, from_id VARCHAR, to_id VARCHAR, ts TIMESTAMPTZ, traits VARCHAR, "
                 "message_id VARCHAR",
    "_bj_spend": f"{_BOOK}, date DATE, source VARCHAR, campaign VARCHAR, amount DOUBLE, currency VARCHAR",
}
_REJECTED = " UNION ALL ".join(f"SELECT file_idx, seq, line, reason, raw FROM {name} WHERE reason IS NOT NULL"
                               for name in ("_bj_rejects", "_bj_links", "_bj_spend"))
_PAGE = 50_000
_EVENT_COLUMNS = "event_id, entity_id, anonymous_id, account_id, event, ts, properties"


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort and a compare: numpy's ``unique`` is far slower on uint64)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def has_repeats(values: np.ndarray) -> bool:
    """True when a value occurs twice in ``values`` (sorted in place)."""
    values.sort()
    return bool(len(values) > 1 and (values[1:] == values[:-1]).any())


def contains_any(sorted_values: np.ndarray, candidates: np.ndarray) -> bool:
    """True when any of ``candidates`` is in ``sorted_values``."""
    if not len(sorted_values) or not len(candidates):
        return False
    at = np.minimum(np.searchsorted(sorted_values, candidates), len(sorted_values) - 1)
    return bool((sorted_values[at] == candidates).any())


class RepeatedIds(Exception):
    """The import holds an event id more than once: it must be redone carefully (fast staging only)."""


@dataclass
class Tally:
    """Counts for one file (``pairs``: hashes of the anonymous -> entity id pairs its new events carry)."""

    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    identity_links: int = 0
    naive_line: int | None = None
    pairs: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))


class Staging:
    """The temporary tables of one import, in the store's own connection, and the per-file tallies."""

    def __init__(self, store: DuckDBStore, *, careful: bool = False) -> None:
        self.store = store
        self.careful = careful
        self.tallies: dict[int, Tally] = {}
        self._written: list[tuple[int, int, int]] = []  # (file_idx, first rowid, last rowid) of fast inserts
        self._next_row = int(store.query("SELECT coalesce(max(rowid) + 1, 0) AS n FROM events_raw")["n"][0].as_py())
        self.store_had_events = self._next_row > 0  # rows are never deleted, so rowids start at 0
        self._seen = np.empty(0, np.uint64)  # hashes of the event ids this import has inserted (sorted)
        for name, columns in _TABLES.items():
            store.run(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")

    def close(self) -> None:
        """Drop the staging tables."""
        for name in _TABLES:
            self.store.run(f"DROP TABLE IF EXISTS {name}")

    def tally(self, file_idx: int) -> Tally:
        """The counts of one file (created empty)."""
        return self.tallies.setdefault(file_idx, Tally())

    # -- events -----------------------------------------------------------------------------------
    def stage_events(self, file_idx: int, queries: EventsSql, tables: dict[str, pa.Table] | None = None,
                     watch: Callable[[float, float], AbstractContextManager[None]] | None = None,
                     rows: int | None = None) -> Tally:
        """Normalise a relation of source rows (``queries``), keep its rejects, insert its good new rows.

        ``rows`` is how many rows the relation has (default: the ``_bj_batch`` table's). ``watch(start, end)``
        wraps a long statement that covers that share of the work (progress).
        """
        if self.careful:
            return self._stage_carefully(file_idx, queries, tables, watch)
        watch = watch or (lambda _start, _end: nullcontext())
        tally = self.tally(file_idx)
        norm, params = queries.full, queries.params
        if rows is None:
            rows = (tables or {})["_bj_batch"].num_rows
        new = "NOT EXISTS (SELECT 1 FROM events_raw r WHERE r.event_id = s.event_id)" if self.store_had_events \
            else "true"
        with watch(0.0, 1.0):
            inserted = self.store.run(f"""
                INSERT INTO events_raw WITH norm AS ({norm})
                SELECT {_EVENT_COLUMNS} FROM norm s WHERE reason IS NULL AND {new}""", params, tables)[0][0]
        good = rows
        if inserted < rows:  # rejects, or ids already stored: a second look finds which
            flags = self.store.query(f"""
                WITH norm AS ({norm})
                SELECT count(*) FILTER (WHERE reason IS NULL) AS good,
                       min(line) FILTER (WHERE reason = $naive) AS naive FROM norm""",
                                     {**params, "naive": NAIVE_REASON}, tables).to_pylist()[0]
            good = flags["good"]
            if good < rows:
                self.store.run(f"""
                    INSERT INTO _bj_rejects WITH norm AS ({norm})
                    SELECT {file_idx}, seq, line, reason, raw FROM norm WHERE reason IS NOT NULL""", params, tables)
            if flags["naive"] is not None and tally.naive_line is None:
                tally.naive_line = flags["naive"]
        tally.rows += rows
        tally.rejected += rows - good
        tally.inserted += inserted
        tally.duplicates += good - inserted
        if inserted:
            span = self.store.query("SELECT min(rowid) AS lo, max(rowid) AS hi FROM events_raw WHERE rowid >= ?",
                                    [self._next_row]).to_pylist()[0]
            self._written.append((file_idx, span["lo"], span["hi"]))
            self._next_row = span["hi"] + 1
        return tally

    def _check_written(self) -> None:
        """After fast staging: refuse an id written twice (:class:`RepeatedIds`), count each file's links."""
        if not self._written:
            return
        first = self._written[0][1]
        # Equal ids have equal hashes: distinct hashes prove distinct ids (a sort of 64-bit integers is far
        # cheaper than grouping strings); only a repeated hash needs the exact check.
        if has_repeats(self.store.column("SELECT hash(event_id) FROM events_raw WHERE rowid >= ?", [first])):
            repeated = self.store.query("SELECT count(*) - count(DISTINCT event_id) AS n FROM events_raw "
                                        "WHERE rowid >= ?", [first])["n"][0].as_py()
            if repeated:
                raise RepeatedIds()
        for file_idx, lo, hi in self._written:
            pairs = self.store.column("""
                SELECT DISTINCT hash(anonymous_id, entity_id) FROM events_raw
                WHERE rowid BETWEEN ? AND ? AND anonymous_id IS NOT NULL AND entity_id IS NOT NULL
                  AND anonymous_id <> entity_id""", [lo, hi]).astype(np.uint64, copy=False)
            tally = self.tally(file_idx)
            tally.pairs = sorted_unique(np.concatenate([tally.pairs, pairs]) if len(tally.pairs) else pairs)

    def _stage_carefully(self, file_idx: int, queries: EventsSql, tables: dict[str, pa.Table] | None,
                         watch: Callable[[float, float], AbstractContextManager[None]] | None) -> Tally:
        """Careful staging: check every row first, so that only the first occurrence of an id is written.

        Three passes, all vectorised in DuckDB: a light one (id hashes, validity) that finds the rejects and
        the ids repeated inside the import, one that keeps the rejects (only when there are some), and the
        insert, which skips stored ids only when the store (or this import) can hold them. ``watch(start, end)``
        wraps a long statement that covers that share of the work (progress).
        """
        watch = watch or (lambda _start, _end: nullcontext())
        tally = self.tally(file_idx)
        norm, params = queries.full, queries.params
        with watch(0.0, 0.3):
            flags = self.store.query(f"""
            WITH norm AS ({norm})
            SELECT reason IS NULL AS ok, hash(event_id) AS h, CASE WHEN reason = $naive THEN line END AS naive,
                   CASE WHEN reason IS NULL AND anonymous_id IS NOT NULL AND entity_id IS NOT NULL
                        AND anonymous_id <> entity_id THEN hash(anonymous_id, entity_id) END AS pair
            FROM norm""", {**params, "naive": NAIVE_REASON}, tables)
        ok = flags["ok"].to_numpy(zero_copy_only=False)
        bad = int(len(ok) - ok.sum())
        tally.rows += len(ok)
        if bad:
            self.store.run(f"""
                INSERT INTO _bj_rejects WITH norm AS ({norm})
                SELECT {file_idx}, seq, line, reason, raw FROM norm WHERE reason IS NOT NULL""", params, tables)
            tally.rejected += bad
            naive = pc.min(flags["naive"]).as_py()
            if naive is not None and tally.naive_line is None:
                tally.naive_line = naive
        good = len(ok) - bad
        if not good:
            return tally
        hashes = flags["h"].to_numpy(zero_copy_only=False)
        if bad:
            hashes = hashes[ok]
        unique = sorted_unique(hashes)
        repeats = len(unique) < len(hashes)
        overlap = contains_any(self._seen, unique)
        stored = self.store_had_events or overlap
        pairs = flags["pair"].filter(pc.is_valid(flags["pair"])).to_numpy(zero_copy_only=False)
        if stored or repeats:
            pairs = self._new_pairs(norm, params, tables, stored)
        where = "NOT EXISTS (SELECT 1 FROM events_raw r WHERE r.event_id = s.event_id)" if stored else "true"
        first_only = "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY seq) = 1" if repeats else ""
        valid = "reason IS NULL" if bad else "true"
        with watch(0.3, 1.0):
            inserted = self.store.run(f"""
                INSERT INTO events_raw WITH norm AS ({norm if bad else queries.clean})
                SELECT {_EVENT_COLUMNS} FROM (
                    SELECT seq, {_EVENT_COLUMNS} FROM norm s WHERE {valid} AND {where} {first_only})""",
                                      params, tables)[0][0]
        tally.inserted += inserted
        tally.duplicates += good - inserted
        pairs = pairs.astype(np.uint64, copy=False)
        tally.pairs = sorted_unique(np.concatenate([tally.pairs, pairs]) if len(tally.pairs) else pairs)
        self._seen = sorted_unique(np.concatenate([self._seen, unique])) if len(self._seen) else unique
        return tally

    def _new_pairs(self, norm: str, params: dict[str, Any], tables: dict[str, pa.Table] | None,
                   stored: bool) -> np.ndarray:
        """Pair hashes of the good rows that will be inserted (not stored yet, first of their id)."""
        where = "AND NOT EXISTS (SELECT 1 FROM events_raw r WHERE r.event_id = s.event_id)" if stored else ""
        rows = self.store.query(f"""
            WITH norm AS ({norm})
            SELECT DISTINCT hash(anonymous_id, entity_id) AS pair FROM norm s
            WHERE reason IS NULL AND anonymous_id IS NOT NULL AND entity_id IS NOT NULL
              AND anonymous_id <> entity_id {where}""", params, tables)
        return rows["pair"].to_numpy(zero_copy_only=False)

    # -- links and spend --------------------------------------------------------------------------
    def stage(self, sql: str, params: dict[str, Any], batch: pa.Table) -> None:
        """Run one staging ``INSERT`` (links or spend) over ``batch`` (registered as ``_bj_batch``)."""
        self.store.run(sql, params, {"_bj_batch": batch})

    def first_naive(self) -> dict[int, int | None]:
        """Per file, the first line whose timestamp had no zone while no time zone was given."""
        found = {i: t.naive_line for i, t in self.tallies.items() if t.naive_line is not None}
        rows = self.store.query("SELECT file_idx, min(line) AS line FROM _bj_links WHERE reason = ? GROUP BY ALL",
                                [NAIVE_REASON]).to_pylist()
        for r in rows:
            found.setdefault(r["file_idx"], r["line"])
        return found

    def finish(self) -> None:
        """Move staged links and spend into the store and complete the tallies (inside the transaction)."""
        self._check_written()
        for part in (self._commit_links(), self._commit_spend()):
            for file_idx, (rows, rejected, inserted, duplicates, links) in part.items():
                tally = self.tally(file_idx)
                tally.rows += rows
                tally.rejected += rejected
                tally.inserted += inserted
                tally.duplicates += duplicates
                tally.identity_links += links
        for tally in self.tallies.values():
            tally.identity_links += len(tally.pairs)
        if any(t.inserted for t in self.tallies.values()):
            self.store.mark_changed()

    def _commit_links(self) -> dict[int, tuple[int, int, int, int, int]]:
        keep = "NOT EXISTS (SELECT 1 FROM _bj_ldup d WHERE d.file_idx = s.file_idx AND d.seq = s.seq)"
        self.store.run("""
            CREATE OR REPLACE TEMP TABLE _bj_ldup AS SELECT file_idx, seq FROM (
                SELECT file_idx, seq, message_id,
                       row_number() OVER (PARTITION BY message_id ORDER BY file_idx, seq) AS k
                FROM _bj_links WHERE reason IS NULL) t
            WHERE k > 1 OR message_id IN (SELECT message_id FROM identities)
               OR message_id IN (SELECT message_id FROM traits)""")
        try:
            self.store.run(f"""
                INSERT INTO identities SELECT from_id, to_id, ts, kind, message_id FROM _bj_links s
                WHERE reason IS NULL AND from_id IS NOT NULL AND {keep}""")
            self.store.run(f"""
                INSERT INTO traits SELECT to_id, ts, traits::JSON, message_id FROM _bj_links s
                WHERE reason IS NULL AND traits IS NOT NULL AND {keep}""")
            rows = self.store.query(f"""
                SELECT file_idx, count(*) AS n, count(reason) AS bad,
                       count(*) FILTER (WHERE reason IS NULL AND {keep}) AS inserted,
                       count(*) FILTER (WHERE reason IS NULL AND NOT ({keep})) AS duplicates,
                       count(*) FILTER (WHERE reason IS NULL AND {keep} AND from_id IS NOT NULL) AS links
                FROM _bj_links s GROUP BY file_idx""").to_pylist()
        finally:
            self.store.run("DROP TABLE IF EXISTS _bj_ldup")
        return {r["file_idx"]: (r["n"], r["bad"], r["inserted"], r["duplicates"], r["links"]) for r in rows}

    def _commit_spend(self) -> dict[int, tuple[int, int, int, int, int]]:
        keep = "NOT EXISTS (SELECT 1 FROM _bj_sdup d WHERE d.file_idx = s.file_idx AND d.seq = s.seq)"
        self.store.run("""
            CREATE OR REPLACE TEMP TABLE _bj_sdup AS SELECT file_idx, seq FROM (
                SELECT *, row_number() OVER (PARTITION BY date, source, campaign, amount, currency
                                             ORDER BY file_idx, seq) AS k
                FROM _bj_spend WHERE reason IS NULL) t
            WHERE k > 1 OR EXISTS (
                SELECT 1 FROM spend p WHERE p.date = t.date AND p.source = t.source
                AND p.campaign IS NOT DISTINCT FROM t.campaign AND p.amount = t.amount
                AND p.currency IS NOT DISTINCT FROM t.currency)""")
        try:
            self.store.run(f"""
                INSERT INTO spend SELECT date, source, campaign, amount, currency FROM _bj_spend s
                WHERE reason IS NULL AND {keep}""")
            rows = self.store.query(f"""
                SELECT file_idx, count(*) AS n, count(reason) AS bad,
                       count(*) FILTER (WHERE reason IS NULL AND {keep}) AS inserted,
                       count(*) FILTER (WHERE reason IS NULL AND NOT ({keep})) AS duplicates
                FROM _bj_spend s GROUP BY file_idx""").to_pylist()
        finally:
            self.store.run("DROP TABLE IF EXISTS _bj_sdup")
        return {r["file_idx"]: (r["n"], r["bad"], r["inserted"], r["duplicates"], 0) for r in rows}

    # -- reports ----------------------------------------------------------------------------------
    def first_rejects(self, files: list[str], limit: int) -> dict[int, list[Reject]]:
        """Per file, its first ``limit`` rejected rows in file order."""
        rows = self.store.query(f"""
            SELECT file_idx, line, reason, raw FROM ({_REJECTED})
            QUALIFY row_number() OVER (PARTITION BY file_idx ORDER BY seq, line) <= ?
            ORDER BY file_idx, seq""", [limit]).to_pylist()
        found: dict[int, list[Reject]] = {}
        for r in rows:
            found.setdefault(r["file_idx"], []).append(Reject(files[r["file_idx"]], r["line"], r["reason"], r["raw"]))
        return found

    def rejects(self, files: list[str]) -> Iterator[Reject]:
        """Every rejected row, file by file in file order (read in pages)."""
        for file_idx, file in enumerate(files):
            for name in ("_bj_rejects", "_bj_links", "_bj_spend"):
                after = -1
                while True:
                    page = self.store.query(f"""
                        SELECT seq, line, reason, raw FROM {name} WHERE file_idx = ? AND seq > ?
                        AND reason IS NOT NULL ORDER BY seq LIMIT {_PAGE}""", [file_idx, after]).to_pylist()
                    for r in page:
                        yield Reject(file, r["line"], r["reason"], r["raw"])
                    if len(page) < _PAGE:
                        break
                    after = page[-1]["seq"]

    def conflict_files(self, conflicts: list[IdentityConflict]) -> dict[int, int]:
        """Per file, how many of ``conflicts`` involve an identity link that file brought."""
        if not conflicts:
            return {}
        table = pa.table({"from_id": [c.from_id for c in conflicts], "kept": [c.kept_to_id for c in conflicts],
                          "refused": [c.rejected_to_id for c in conflicts]})
        found: dict[int, int] = {}
        linked = self.store.query("""
            SELECT s.file_idx, count(DISTINCT c.from_id || chr(31) || c.refused) AS n
            FROM conflicts c JOIN _bj_links s ON s.reason IS NULL AND s.from_id = c.from_id
                 AND (s.to_id = c.refused OR s.to_id = c.kept)
            GROUP BY s.file_idx""", tables={"conflicts": table}).to_pylist()
        for r in linked:
            found[r["file_idx"]] = r["n"]
        hashed = self.store.query("SELECT hash(from_id, kept) AS a, hash(from_id, refused) AS b FROM conflicts",
                                  tables={"conflicts": table})
        kept, refused = (hashed[c].to_numpy(zero_copy_only=False).astype(np.uint64) for c in ("a", "b"))
        for file_idx, tally in self.tallies.items():
            hits = sum(contains_any(tally.pairs, np.array(pair, np.uint64)) for pair in zip(kept, refused, strict=True))
            if hits:
                found[file_idx] = found.get(file_idx, 0) + hits
        return found
