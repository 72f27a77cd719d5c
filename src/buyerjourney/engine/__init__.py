"""The funnel engine: query model, scan kernel, drivers and per-entity results (DESIGN section 3).

Imports flow one way: the engine reads the store and the event schema, never the other way round.
"""

from __future__ import annotations

from buyerjourney.engine.api import funnel
from buyerjourney.engine.batch import run_kernel_on_batch, run_kernel_on_batches
from buyerjourney.engine.query import Exclusion, FunnelQuery, Step
from buyerjourney.engine.result import FunnelResult, StepSummary

__all__ = [
    "Exclusion",
    "FunnelQuery",
    "FunnelResult",
    "Step",
    "StepSummary",
    "funnel",
    "run_kernel_on_batch",
    "run_kernel_on_batches",
]
