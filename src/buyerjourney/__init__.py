"""buyerjourney: see the whole buyer journey, from first visit to referral, on your own machine."""

from __future__ import annotations

from buyerjourney.engine import Exclusion, FunnelQuery, FunnelResult, Step, funnel
from buyerjourney.errors import (
    AuthError,
    BuyerJourneyError,
    ConfigError,
    ImportFormatError,
    InputError,
    NotFoundError,
    QueryError,
    StoreError,
    TimezoneError,
)
from buyerjourney.store import DuckDBStore, open_store

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BuyerJourneyError",
    "ConfigError",
    "DuckDBStore",
    "Exclusion",
    "FunnelQuery",
    "FunnelResult",
    "ImportFormatError",
    "InputError",
    "NotFoundError",
    "QueryError",
    "Step",
    "StoreError",
    "TimezoneError",
    "__version__",
    "funnel",
    "open_store",
]
