"""The funnel query: a frozen, validated model (DESIGN section 3), with every default resolved here.

Build one with :meth:`FunnelQuery.build` (plain Python values, as the API and the CLI receive them);
every rule it breaks raises :class:`~buyerjourney.errors.QueryError` (a ``ValueError``) naming the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from buyerjourney.durations import parse_duration
from buyerjourney.engine.filters import Condition, parse_where, where_to_dict
from buyerjourney.errors import QueryError

MAX_STEPS = 32
MAX_EXCLUSIONS = 32
ORDERS = ("ordered", "strict", "unordered")
Order = Literal["ordered", "strict", "unordered"]


def _duration(value: object, field: str) -> int:
    if isinstance(value, str) and value.strip().startswith("-"):
        raise QueryError(f"{field}: a duration cannot be negative ({value!r})", field=field)
    return parse_duration(value, field=field)  # type: ignore[arg-type]


class Step(BaseModel):
    """One funnel step: an event name, optional property filters, an optional ``within`` bound, optional-ness."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: str
    where: tuple[Condition, ...] = ()
    within: int | None = None  # seconds since the previous filled step, inclusive
    optional: bool = False

    @field_validator("event", mode="before")
    @classmethod
    def _event(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            raise QueryError(f"a step needs an event name, got {value!r}", field="steps")
        return value

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, value: object) -> tuple[Condition, ...]:
        return parse_where(value)  # type: ignore[arg-type]

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, value: object) -> int | None:
        return None if value is None else _duration(value, "within")

    @property
    def label(self) -> str:
        """The event name plus its filters, e.g. ``purchase[plan="pro"]``."""
        if not self.where:
            return self.event
        return f"{self.event}[{', '.join(c.describe() for c in self.where)}]"

    def to_dict(self) -> dict[str, Any]:
        """The step as the ``steps`` items of :func:`buyerjourney.funnel` take it."""
        out: dict[str, Any] = {"event": self.event}
        if self.where:
            out["where"] = where_to_dict(self.where)
        if self.within is not None:
            out["within"] = f"{self.within}s"
        if self.optional:
            out["optional"] = True
        return out


class Exclusion(BaseModel):
    """An event that invalidates a chain when it happens strictly between the step-``from_step`` and
    step-``to_step`` events (1-based, both required steps; the window's end if the chain stopped before)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: str
    from_step: int
    to_step: int
    where: tuple[Condition, ...] = ()

    @field_validator("event", mode="before")
    @classmethod
    def _event(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            raise QueryError(f"an exclusion needs an event name, got {value!r}", field="exclusions")
        return value

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, value: object) -> tuple[Condition, ...]:
        return parse_where(value, label="exclusion where")  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """The exclusion as :func:`buyerjourney.funnel` takes it."""
        out: dict[str, Any] = {"event": self.event, "from_step": self.from_step, "to_step": self.to_step}
        if self.where:
            out["where"] = where_to_dict(self.where)
        return out


class FunnelQuery(BaseModel):
    """A whole funnel: steps, window, order and exclusions, validated against DESIGN section 3."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[Step, ...]
    window: int  # seconds, inclusive bound on t_k - t_1
    order: Order = "ordered"
    exclusions: tuple[Exclusion, ...] = ()

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: object) -> int:
        return _duration(value, "window")

    @field_validator("order", mode="before")
    @classmethod
    def _order(cls, value: object) -> object:
        if value not in ORDERS:
            raise QueryError(f"order: unknown order {value!r}: use ordered, strict or unordered", field="order")
        return value

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        steps = data.get("steps")
        if isinstance(steps, str) or not isinstance(steps, Sequence):
            raise QueryError("steps: expected a list of steps (event names or {'event': ...} mappings)",
                             field="steps")
        data["steps"] = tuple(Step(event=s) if isinstance(s, str) else s for s in steps)
        if not 1 <= len(data["steps"]) <= MAX_STEPS:
            raise QueryError(f"a funnel has 1 to {MAX_STEPS} steps, got {len(data['steps'])}", field="steps")
        exclusions = data.get("exclusions") or ()
        if isinstance(exclusions, Mapping | str):
            exclusions = [exclusions]
        resolved = []
        for ex in exclusions:
            if isinstance(ex, str):
                ex = {"event": ex}
            if isinstance(ex, Mapping):
                ex = {"from_step": 1, "to_step": len(data["steps"]), **ex}
            resolved.append(ex)
        data["exclusions"] = tuple(resolved)
        return data

    @model_validator(mode="after")
    def _rules(self) -> FunnelQuery:
        n = len(self.steps)
        if self.steps[0].optional:
            raise QueryError("step 1 cannot be optional", field="steps")
        if self.steps[0].within is not None:
            raise QueryError("step 1 cannot have within: it bounds the gap to the previous step", field="steps")
        if self.order == "unordered":
            if any(s.within is not None for s in self.steps):
                raise QueryError("an unordered funnel takes no within", field="steps")
            if any(s.optional for s in self.steps):
                raise QueryError("an unordered funnel takes no optional steps", field="steps")
            if self.exclusions:
                raise QueryError("an unordered funnel takes no exclusions", field="exclusions")
        if len(self.exclusions) > MAX_EXCLUSIONS:
            raise QueryError(f"at most {MAX_EXCLUSIONS} exclusions", field="exclusions")
        step_events = {s.event for s in self.steps}
        for ex in self.exclusions:
            if ex.event in step_events:
                raise QueryError(f"exclusion event {ex.event!r} is one of the steps' events", field="exclusions")
            if not 1 <= ex.from_step < ex.to_step <= n:
                raise QueryError(f"exclusion {ex.event!r}: steps {ex.from_step}..{ex.to_step} are not a range "
                                 f"1 <= from_step < to_step <= {n}", field="exclusions")
            for k in (ex.from_step, ex.to_step):
                if self.steps[k - 1].optional:
                    raise QueryError(f"exclusion {ex.event!r}: step {k} is optional; an exclusion range runs "
                                     "between required steps", field="exclusions")
        return self

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def build(cls, steps: Sequence[str | Mapping[str, Any] | Step], window: str | int = "14d",
              order: str = "ordered", exclusions: Sequence[Mapping[str, Any] | Exclusion] | None = None
              ) -> FunnelQuery:
        """Validate plain values into a query; any broken rule raises :class:`QueryError`."""
        try:
            return cls(steps=steps, window=window, order=order, exclusions=exclusions or ())  # type: ignore[arg-type]
        except ValidationError as exc:
            raise _as_query_error(exc) from None

    # -- resolved views --------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of steps."""
        return len(self.steps)

    @property
    def optional_mask(self) -> int:
        """Bit k-1 set for each optional step k."""
        return sum(1 << i for i, s in enumerate(self.steps) if s.optional)

    @property
    def is_plain(self) -> bool:
        """Ordered, with no within, optional step or exclusion: the linear fast path applies."""
        return (self.order == "ordered" and not self.exclusions
                and all(s.within is None and not s.optional for s in self.steps))

    @property
    def needs_all_events(self) -> bool:
        """Strict funnels look at every event of an entity, not only the funnel's."""
        return self.order == "strict"

    def to_dict(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this query."""
        return {"steps": [s.to_dict() for s in self.steps], "window": f"{self.window}s", "order": self.order,
                "exclusions": [e.to_dict() for e in self.exclusions]}


def _as_query_error(exc: ValidationError) -> QueryError:
    first = exc.errors()[0]
    inner = first.get("ctx", {}).get("error")
    if isinstance(inner, QueryError):
        return inner
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = first.get("msg", str(exc)).removeprefix("Value error, ")
    return QueryError(f"{where}: {message}" if where else message, field=where or None)
