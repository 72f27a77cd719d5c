"""The funnel engine: query model, scan kernel, drivers and per-entity results (DESIGN section 3)."""

from __future__ import annotations
