"""Staging: every row read (good or bad) waits in temporary tables until the whole import has been read.

Then one transaction moves the good, new rows into the store (``events_raw``, ``identities``, ``traits``,
``spend``), skipping ids the store already holds or that repeat inside the import (the first occurrence, in
file order, wins). A file that turns out unreadable half-way aborts the import before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from buyerjourney.ingest.rejects import Reject
from buyerjourney.ingest.timestamps import NAIVE_REASON
from buyerjourney.store import DuckDBStore
from buyerjourney.store.identity import IdentityConflict

_BOOK = "file_idx INTEGER, seq BIGINT, line BIGINT, reason VARCHAR, raw VARCHAR"
_TABLES = {
    "_bj_events": f"""{_BOOK}, event_id VARCHAR, entity_id VARCHAR, anonymous_id VARCHAR, account_id VARCHAR,
                      event VARCHAR, ts TIMESTAMPTZ, properties VARCHAR""",
    "_bj_links": f"{_BOOK}, kind VARCHAR, from_id VARCHAR, to_id VARCHAR, ts TIMESTAMPTZ, traits VARCHAR, "
                 "message_id VARCHAR",
    "_bj_spend": f"{_BOOK}, date DATE, source VARCHAR, campaign VARCHAR, amount DOUBLE, currency VARCHAR",
}
_ALL_ROWS = " UNION ALL ".join(f"SELECT file_idx, seq, line, reason, raw FROM {name}" for name in _TABLES)
_PAGE = 50_000


@dataclass(frozen=True)
class Landed:
    """What the commit did for one file."""

    inserted: int = 0
    duplicates: int = 0
    identity_links: int = 0


class Staging:
    """The temporary tables of one import, in the store's own connection."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        for name, columns in _TABLES.items():
            store.run(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")

    def close(self) -> None:
        """Drop the staging tables."""
        for name in (*_TABLES, "_bj_dup", "_bj_ldup", "_bj_sdup", "_bj_conflicts"):
            self.store.run(f"DROP TABLE IF EXISTS {name}")

    def stage(self, sql: str, params: dict[str, Any], batch: pa.Table) -> None:
        """Run one normalising ``INSERT`` over ``batch`` (registered as ``_bj_batch``)."""
        self.store.run(sql, params, {"_bj_batch": batch})

    # -- what was read ----------------------------------------------------------------------------
    def first_naive(self) -> dict[int, int | None]:
        """Per file, the first line whose timestamp had no zone while no time zone was given."""
        rows = self.store.query(f"""
            SELECT file_idx, min(line) AS line FROM ({_ALL_ROWS}) WHERE reason = ? GROUP BY file_idx""",
                                [NAIVE_REASON]).to_pylist()
        return {r["file_idx"]: r["line"] for r in rows}

    def counts(self) -> dict[int, tuple[int, int]]:
        """Per file: (rows read, rows rejected)."""
        rows = self.store.query(f"""
            SELECT file_idx, count(*) AS n, count(reason) AS bad FROM ({_ALL_ROWS}) GROUP BY file_idx""").to_pylist()
        return {r["file_idx"]: (r["n"], r["bad"]) for r in rows}

    def first_rejects(self, files: list[str], limit: int) -> dict[int, list[Reject]]:
        """Per file, its first ``limit`` rejected rows in file order."""
        rows = self.store.query(f"""
            SELECT file_idx, line, reason, raw FROM ({_ALL_ROWS}) WHERE reason IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY file_idx ORDER BY seq, line) <= ?
            ORDER BY file_idx, seq""", [limit]).to_pylist()
        found: dict[int, list[Reject]] = {}
        for r in rows:
            found.setdefault(r["file_idx"], []).append(Reject(files[r["file_idx"]], r["line"], r["reason"], r["raw"]))
        return found

    def rejects(self, files: list[str]) -> Iterator[Reject]:
        """Every rejected row, file by file in file order (read in pages)."""
        for name in _TABLES:
            for file_idx, file in enumerate(files):
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

    # -- commit -----------------------------------------------------------------------------------
    def commit(self) -> dict[int, Landed]:
        """Move the good, new rows into the store; call inside :meth:`DuckDBStore.transaction`."""
        events = self._commit_events()
        links = self._commit_links()
        spend = self._commit_spend()
        landed: dict[int, Landed] = {}
        for part in (events, links, spend):
            for file_idx, (inserted, duplicates, n_links) in part.items():
                old = landed.get(file_idx, Landed())
                landed[file_idx] = Landed(old.inserted + inserted, old.duplicates + duplicates,
                                          old.identity_links + n_links)
        if any(events.values()) or any(v[0] for v in links.values()):
            self.store.mark_changed()
        return landed

    def _scalar(self, sql: str) -> int:
        return int(self.store.query(sql).column(0)[0].as_py() or 0)

    def _commit_events(self) -> dict[int, tuple[int, int, int]]:
        repeats = self._scalar("""SELECT count(*) FROM (SELECT hash(event_id) AS h FROM _bj_events
                                  WHERE reason IS NULL GROUP BY h HAVING count(*) > 1)""")
        stored = self._scalar("""SELECT count(*) FROM _bj_events WHERE reason IS NULL
                                 AND event_id IN (SELECT event_id FROM events_raw)""")
        self.store.run("""CREATE OR REPLACE TEMP TABLE _bj_dup (file_idx INTEGER, seq BIGINT)""")
        if repeats or stored:
            self.store.run("""
                INSERT INTO _bj_dup SELECT file_idx, seq FROM (
                    SELECT file_idx, seq, event_id,
                           row_number() OVER (PARTITION BY event_id ORDER BY file_idx, seq) AS k
                    FROM _bj_events WHERE reason IS NULL) t
                WHERE k > 1 OR event_id IN (SELECT event_id FROM events_raw)""")
            keep = "NOT EXISTS (SELECT 1 FROM _bj_dup d WHERE d.file_idx = s.file_idx AND d.seq = s.seq)"
        else:
            keep = "true"
        self.store.run(f"""
            INSERT INTO events_raw
            SELECT event_id, entity_id, anonymous_id, account_id, event, ts, properties::JSON
            FROM _bj_events s WHERE reason IS NULL AND {keep}""")
        rows = self.store.query(f"""
            SELECT s.file_idx,
                   count(*) FILTER (WHERE {keep}) AS inserted,
                   count(*) FILTER (WHERE NOT ({keep})) AS duplicates,
                   count(DISTINCT CASE WHEN {keep} AND s.anonymous_id IS NOT NULL AND s.entity_id IS NOT NULL
                                       AND s.anonymous_id <> s.entity_id
                                       THEN s.anonymous_id || chr(31) || s.entity_id END) AS links
            FROM _bj_events s WHERE reason IS NULL GROUP BY s.file_idx""").to_pylist()
        return {r["file_idx"]: (r["inserted"], r["duplicates"], r["links"]) for r in rows}

    def _commit_links(self) -> dict[int, tuple[int, int, int]]:
        self.store.run("""
            CREATE OR REPLACE TEMP TABLE _bj_ldup AS SELECT file_idx, seq FROM (
                SELECT file_idx, seq, message_id,
                       row_number() OVER (PARTITION BY message_id ORDER BY file_idx, seq) AS k
                FROM _bj_links WHERE reason IS NULL) t
            WHERE k > 1 OR message_id IN (SELECT message_id FROM identities)
               OR message_id IN (SELECT message_id FROM traits)""")
        keep = "NOT EXISTS (SELECT 1 FROM _bj_ldup d WHERE d.file_idx = s.file_idx AND d.seq = s.seq)"
        self.store.run(f"""
            INSERT INTO identities SELECT from_id, to_id, ts, kind, message_id FROM _bj_links s
            WHERE reason IS NULL AND from_id IS NOT NULL AND {keep}""")
        self.store.run(f"""
            INSERT INTO traits SELECT to_id, ts, traits::JSON, message_id FROM _bj_links s
            WHERE reason IS NULL AND traits IS NOT NULL AND {keep}""")
        rows = self.store.query(f"""
            SELECT file_idx, count(*) FILTER (WHERE {keep}) AS inserted,
                   count(*) FILTER (WHERE NOT ({keep})) AS duplicates,
                   count(*) FILTER (WHERE {keep} AND from_id IS NOT NULL) AS links
            FROM _bj_links s WHERE reason IS NULL GROUP BY file_idx""").to_pylist()
        return {r["file_idx"]: (r["inserted"], r["duplicates"], r["links"]) for r in rows}

    def _commit_spend(self) -> dict[int, tuple[int, int, int]]:
        self.store.run("""
            CREATE OR REPLACE TEMP TABLE _bj_sdup AS SELECT file_idx, seq FROM (
                SELECT *, row_number() OVER (PARTITION BY date, source, campaign, amount, currency
                                             ORDER BY file_idx, seq) AS k
                FROM _bj_spend WHERE reason IS NULL) t
            WHERE k > 1 OR EXISTS (
                SELECT 1 FROM spend p WHERE p.date = t.date AND p.source = t.source
                AND p.campaign IS NOT DISTINCT FROM t.campaign AND p.amount = t.amount
                AND p.currency IS NOT DISTINCT FROM t.currency)""")
        keep = "NOT EXISTS (SELECT 1 FROM _bj_sdup d WHERE d.file_idx = s.file_idx AND d.seq = s.seq)"
        self.store.run(f"""
            INSERT INTO spend SELECT date, source, campaign, amount, currency FROM _bj_spend s
            WHERE reason IS NULL AND {keep}""")
        rows = self.store.query(f"""
            SELECT file_idx, count(*) FILTER (WHERE {keep}) AS inserted,
                   count(*) FILTER (WHERE NOT ({keep})) AS duplicates
            FROM _bj_spend s WHERE reason IS NULL GROUP BY file_idx""").to_pylist()
        return {r["file_idx"]: (r["inserted"], r["duplicates"], 0) for r in rows}

    # -- after the refresh ------------------------------------------------------------------------
    def conflict_files(self, conflicts: list[IdentityConflict]) -> dict[int, int]:
        """Per file, how many of ``conflicts`` involve an identity link that file brought."""
        if not conflicts:
            return {}
        table = pa.table({"from_id": [c.from_id for c in conflicts],
                          "kept": [c.kept_to_id for c in conflicts],
                          "refused": [c.rejected_to_id for c in conflicts]})
        self.store.run("CREATE OR REPLACE TEMP TABLE _bj_conflicts AS SELECT * FROM conflicts",
                       tables={"conflicts": table})
        rows = self.store.query("""
            WITH staged AS (
                SELECT file_idx, from_id, to_id FROM _bj_links WHERE reason IS NULL AND from_id IS NOT NULL
                UNION ALL
                SELECT file_idx, anonymous_id, entity_id FROM _bj_events
                WHERE reason IS NULL AND anonymous_id IS NOT NULL AND entity_id IS NOT NULL)
            SELECT file_idx, count(DISTINCT c.from_id || chr(31) || c.refused) AS n
            FROM _bj_conflicts c JOIN staged s
              ON s.from_id = c.from_id AND (s.to_id = c.refused OR s.to_id = c.kept)
            GROUP BY file_idx""").to_pylist()
        return {r["file_idx"]: r["n"] for r in rows}
