"""Analysis: the journey audit, lead economics and censored conversion, as pure functions over aggregates.

Only :mod:`buyerjourney.analysis.facts` talks to the store (DuckDB SQL with parameters); every other
module reads the small tables it returns.
"""

from __future__ import annotations

from buyerjourney.analysis.audit import STEPS, AuditReport, run_audit

__all__ = ["STEPS", "AuditReport", "run_audit"]
