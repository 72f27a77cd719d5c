"""Censored conversion: Kaplan–Meier cumulative conversion curves (lifelines) over grouped durations.

Buyers take time, so a lead that joined last week has not failed: every entrant is followed from its
entry (opt-in, first purchase, ...) until it converts (observed) or until the audit's ``as_of``
(censored). The input is small: rows of ``(group, days, observed, n)`` counted in SQL, fitted with
``n`` as weights. Conversion by day ``t`` is ``1 - S(t)``; its standard error is Greenwood's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """Cumulative conversion by a day, with what it rests on."""

    value: float  # share converted by ``days`` (Kaplan–Meier, censored)
    se: float  # Greenwood standard error
    days: float
    entrants: int  # everyone followed
    converted: int  # conversions observed by ``days``
    at_risk: int  # entrants still followed, not converted, at ``days``

    def how(self, entrants: str = "entrants", converted: str = "converted") -> str:
        """The estimate in words, with its counts."""
        day = f"{self.days:.0f}"
        return (f"Kaplan–Meier over {self.entrants:,} {entrants} (censored at the audit date): {self.converted:,} "
                f"{converted} by day {day}, {self.at_risk:,} still followed then; 1 − S({day}) = {self.value:.4f} "
                f"± {self.se:.4f}")


@dataclass(frozen=True)
class Curve:
    """A fitted cumulative conversion curve of one group."""

    group: str
    entrants: int
    converted: int
    max_days: float
    times: np.ndarray  # event_at of the event table
    observed: np.ndarray
    at_risk: np.ndarray
    removed: np.ndarray
    survival: np.ndarray  # S(t) at ``times``

    def at(self, days: float) -> Estimate | None:
        """Conversion by ``days``; ``None`` when no entrant has been followed that long (unless all converted)."""
        if self.entrants == 0 or (days > self.max_days and self.survival[-1] > 0):
            return None
        upto = self.times <= days
        surv = float(self.survival[upto][-1]) if upto.any() else 1.0
        d, n = self.observed[upto], self.at_risk[upto]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(n > d, d / (n * (n - d)), 0.0)
        se = float(np.sqrt(surv * surv * terms.sum()))
        still = int(self.at_risk[~upto][0]) if (~upto).any() else 0
        return Estimate(1.0 - surv, se, days, self.entrants, int(d.sum()), still)

    def sampled(self, step_days: int = 7) -> tuple[list[int], list[float]]:
        """The curve on a grid of days from 0 to the longest follow-up (for charts)."""
        grid = list(range(0, int(self.max_days) + 1, step_days))
        if grid and grid[-1] != int(self.max_days):
            grid.append(int(self.max_days))
        values = []
        for day in grid:
            upto = self.times <= day
            values.append(round(1.0 - (float(self.survival[upto][-1]) if upto.any() else 1.0), 6))
        return grid, values


def fit(rows: Iterable[Mapping[str, Any]], group: str = "all") -> Curve:
    """Fit one curve from rows of ``days``, ``observed`` and ``n`` (entrants with that outcome)."""
    days, observed, weights = [], [], []
    for row in rows:
        if row["n"]:
            days.append(max(float(row["days"]), 0.0))
            observed.append(bool(row["observed"]))
            weights.append(int(row["n"]))
    if not weights:
        empty = np.array([], dtype=float)
        return Curve(group, 0, 0, 0.0, empty, empty, empty, empty, empty)
    from lifelines import KaplanMeierFitter  # imported here: it takes a second, and most commands never fit

    fitter = KaplanMeierFitter()
    fitter.fit(np.array(days), np.array(observed), weights=np.array(weights, dtype=float))
    table = fitter.event_table
    times = table.index.to_numpy(dtype=float)
    survival = fitter.survival_function_at_times(times).to_numpy(dtype=float)
    return Curve(group, int(sum(weights)), int(sum(w for w, o in zip(weights, observed, strict=True) if o)),
                 float(max(days)), times, table["observed"].to_numpy(dtype=float),
                 table["at_risk"].to_numpy(dtype=float), table["removed"].to_numpy(dtype=float), survival)


def fit_groups(rows: Iterable[Mapping[str, Any]], limit: int | None = None) -> dict[str, Curve]:
    """One curve per value of ``grp`` in rows of ``grp``, ``days``, ``observed``, ``n``.

    With ``limit``, only the ``limit`` largest groups are fitted (a source or capture with hundreds of
    values, landing pages say, keeps its counts to date; its curve would rest on a handful of leads).
    """
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row["grp"]), []).append(row)
    names = sorted(grouped)
    if limit is not None and len(names) > limit:
        size = {name: sum(int(r["n"]) for r in grouped[name]) for name in names}
        names = sorted(sorted(names, key=lambda name: (-size[name], name))[:limit])
    return {name: fit(grouped[name], name) for name in names}


def pooled(rows: Iterable[Mapping[str, Any]], exclude: str) -> Curve:
    """The curve of every group but ``exclude`` (a segment's peers)."""
    return fit((row for row in rows if str(row["grp"]) != exclude), f"not {exclude}")
