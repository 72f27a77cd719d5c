"""Storage: the only package that imports a database driver."""

from __future__ import annotations

from buyerjourney.store.duckdb import AppendResult, DuckDBStore, StoreInfo, default_db_path, open_store

__all__ = ["AppendResult", "DuckDBStore", "StoreInfo", "default_db_path", "open_store"]
