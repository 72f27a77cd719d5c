"""Staging: how batches reach the store, inside the one transaction of an import.

Events go straight into ``events_raw`` batch by batch (good rows only; ids already stored, or seen earlier in
the import, are skipped: the first occurrence in file order wins). Rejected rows, identity links and spend
rows wait in temporary tables; links and spend are moved into the store at the end. The caller wraps it
all in :meth:`DuckDBStore.transaction`, so a file that proves unreadable half-way writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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
    "_bj_pairs": "file_idx INTEGER, from_id VARCHAR, to_id VARCHAR",
}
_REJECTED = " UNION ALL ".join(f"SELECT file_idx, seq, line, reason, raw FROM {name} WHERE reason IS NOT NULL"
                               for name in ("_bj_rejects", "_bj_links", "_bj_spend"))
_PAGE = 50_000
_EVENT_COLUMNS = "event_id, entity_id, anonymous_id, account_id, event, ts, properties"


@dataclass
class Tally:
    """Counts for one file."""

    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    identity_links: int = 0
    naive_line: int | None = None


class Staging:
    """The temporary tables of one import, in the store's own connection, and the per-file tallies."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self.tallies: dict[int, Tally] = {}
        for name, columns in _TABLES.items():
            store.run(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")

    def close(self) -> None:
        """Drop the staging tables."""
        for name in (*_TABLES, "_bj_conflicts"):
            self.store.run(f"DROP TABLE IF EXISTS {name}")

    def tally(self, file_idx: int) -> Tally:
        """The counts of one file (created empty)."""
        return self.tallies.setdefault(file_idx, Tally())

    # -- events -----------------------------------------------------------------------------------
    def stage_events(self, file_idx: int, sql: str, params: dict[str, Any], batch: pa.Table) -> Tally:
        """Normalise ``batch`` with ``sql``, insert its good new rows, keep its rejects; returns the file's tally."""
        tally = self.tally(file_idx)
        norm = self.store.query(sql, params, {"_bj_batch": batch})
        tally.rows += norm.num_rows
        bad_mask = pc.is_valid(norm["reason"])
        bad = pc.sum(bad_mask).as_py() or 0
        if bad:
            rejected = norm.filter(bad_mask)
            self.store.run(f"INSERT INTO _bj_rejects SELECT {file_idx}, seq, line, reason, raw FROM rejected",
                           tables={"rejected": rejected.select(["seq", "line", "reason", "raw"])})
            tally.rejected += bad
            naive = rejected.filter(pc.equal(rejected["reason"], NAIVE_REASON))
            if naive.num_rows and tally.naive_line is None:
                tally.naive_line = naive["line"][0].as_py()
            norm = norm.filter(pc.invert(bad_mask))
        if not norm.num_rows:
            return tally
        good = norm.select(["seq", *_EVENT_COLUMNS.split(", ")])
        repeats = good.num_rows - pc.count_distinct(good["event_id"]).as_py()
        first_only = "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY seq) = 1" if repeats else ""
        self._pairs(file_idx, good)
        inserted = self.store.run(f"""
            INSERT INTO events_raw
            SELECT {_EVENT_COLUMNS} FROM (
                SELECT {_EVENT_COLUMNS} FROM good s
                WHERE NOT EXISTS (SELECT 1 FROM events_raw r WHERE r.event_id = s.event_id) {first_only})""",
                                  tables={"good": good})[0][0]
        tally.inserted += inserted
        tally.duplicates += good.num_rows - inserted
        return tally

    def _pairs(self, file_idx: int, good: pa.Table) -> None:
        """Keep the anonymous id -> entity id pairs carried by events not yet in the store (identity links)."""
        both = pc.and_(pc.and_(pc.is_valid(good["anonymous_id"]), pc.is_valid(good["entity_id"])),
                       pc.not_equal(good["anonymous_id"], good["entity_id"]))
        linked = good.filter(pc.fill_null(both, False)).select(["event_id", "anonymous_id", "entity_id"])
        if linked.num_rows:
            self.store.run(f"""
                INSERT INTO _bj_pairs SELECT DISTINCT {file_idx}, anonymous_id, entity_id FROM linked s
                WHERE NOT EXISTS (SELECT 1 FROM events_raw r WHERE r.event_id = s.event_id)""",
                           tables={"linked": linked})

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
        for part in (self._commit_links(), self._commit_spend()):
            for file_idx, (rows, rejected, inserted, duplicates, links) in part.items():
                tally = self.tally(file_idx)
                tally.rows += rows
                tally.rejected += rejected
                tally.inserted += inserted
                tally.duplicates += duplicates
                tally.identity_links += links
        pairs = self.store.query("""SELECT file_idx, count(*) AS n FROM (SELECT DISTINCT * FROM _bj_pairs)
                                    GROUP BY file_idx""").to_pylist()
        for r in pairs:
            self.tally(r["file_idx"]).identity_links += r["n"]
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
        rows = self.store.query("""
            WITH staged AS (
                SELECT file_idx, from_id, to_id FROM _bj_links WHERE reason IS NULL AND from_id IS NOT NULL
                UNION ALL SELECT file_idx, from_id, to_id FROM _bj_pairs)
            SELECT file_idx, count(DISTINCT c.from_id || chr(31) || c.refused) AS n
            FROM conflicts c JOIN staged s ON s.from_id = c.from_id AND (s.to_id = c.refused OR s.to_id = c.kept)
            GROUP BY file_idx""", tables={"conflicts": table}).to_pylist()
        return {r["file_idx"]: r["n"] for r in rows}
