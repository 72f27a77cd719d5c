"""What each stage's analysis reads: the facts from SQL, the fitted curves, and the context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from buyerjourney.analysis.cohorts import Curve, Estimate, fit_groups
from buyerjourney.analysis.facts import Facts
from buyerjourney.analysis.model import MONTH_DAYS, Context
from buyerjourney.analysis.rates import Share

#: Curves fitted per grouping (the largest groups); the others are reported with counts to date only.
MAX_CURVES = 40


@dataclass
class Inputs:
    """Facts plus every Kaplan–Meier curve fitted once (``curves[set][group]``)."""

    facts: Facts
    ctx: Context
    curves: dict[str, dict[str, Curve]] = field(default_factory=dict)

    @classmethod
    def build(cls, facts: Facts, ctx: Context) -> Inputs:
        """Fit every curve: all entry cohorts, and the :data:`MAX_CURVES` largest groups of other sets."""
        return cls(facts, ctx, {name: fit_groups(rows, None if name.endswith("_by_cohort") else MAX_CURVES)
                                for name, rows in facts.survival.items()})

    def curve(self, name: str, group: str = "all") -> Curve | None:
        return self.curves.get(name, {}).get(group)

    def at(self, name: str, group: str = "all", months: float | None = None) -> Estimate | None:
        """Conversion of ``name``/``group`` within ``months`` (default: the conversion horizon)."""
        curve = self.curve(name, group)
        if curve is None:
            return None
        horizon = self.ctx.config.conversion_horizon_months if months is None else months
        return curve.at(horizon * MONTH_DAYS)

    @property
    def per_month(self) -> float:
        """The period's length in months: counts over the period divided by this are per month."""
        return self.ctx.period.length_months

    def role(self, name: str) -> int:
        """How many events (or properties) of a role the store holds."""
        return int(self.facts.roles.get(name) or 0)

    def names(self, role: str) -> str:
        """The configured event names of a role, for sentences: ``"`optin`"`` or ``"`a` or `b`"``."""
        events = getattr(self.ctx.config.events, role)
        return " or ".join(f"`{name}`" for name in events) if events else f"(no event mapped to {role})"

    def prop(self, key: str) -> str:
        """The configured property name of a fact, quoted: ``"`source`"``."""
        return f"`{getattr(self.ctx.config.properties, key)}`"

    @property
    def horizon_months(self) -> int:
        return self.ctx.config.conversion_horizon_months

    def segment_conversion(self, segments: list[dict[str, Any]], key: str, curve: str,
                           skip: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Per segment (a capture, a lead type, ...): leads, converted to date and within the horizon.

        ``segments`` rows carry ``key``, ``leads`` and ``converted_leads``; ``curve`` names the censored
        lead-to-customer curves fitted per segment value. Segments with no lead, or whose value is in
        ``skip``, are left out.
        """
        rows = []
        for row in segments:
            if not row["leads"] or row[key] in skip:
                continue
            est = self.at(curve, row[key])
            to_date = Share(row["converted_leads"], row["leads"])
            how = f"converted to date = {to_date.how('bought', 'leads')}"
            if est:
                how += f"; within {self.horizon_months} months: {est.how('leads', 'bought')}"
            rows.append({key: row[key], "leads": row["leads"], "converted_leads": row["converted_leads"],
                         "conversion_to_date": to_date.value, "lead_to_customer": est.value if est else None,
                         "how": how})
        return rows
