"""buyerjourney: see the whole buyer journey, from first visit to referral, on your own machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from buyerjourney.engine import Exclusion, FunnelQuery, FunnelResult, Step, funnel

__version__ = "0.1.0"

#: Loaded on first use: the engine brings in Numba, which commands that don't run funnels needn't pay for.
_LAZY_ENGINE = ("Exclusion", "FunnelQuery", "FunnelResult", "Step", "funnel")


def __getattr__(name: str) -> Any:
    if name in _LAZY_ENGINE:
        from buyerjourney import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'buyerjourney' has no attribute {name!r}")

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
