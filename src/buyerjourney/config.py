"""The journey config (``journey.yaml``): which events play which role, targets, margin and horizons.

A business maps its own event names onto the roles of the seven-stage journey (DESIGN section 1),
so the audit works on any tracking plan. The defaults match the demo business; ``buyerjourney init``
writes them, with comments, as ``journey.yaml`` (the file shipped as ``buyerjourney/journey.yaml``).

Every model refuses unknown keys, and :func:`load_config` reports a mistake as a
:class:`~buyerjourney.errors.ConfigError` naming the file and the dotted key (``targets.visitor_to_lead``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from buyerjourney.errors import ConfigError, NotFoundError

DEFAULT_CONFIG_NAME = "journey.yaml"


def _as_names(value: Any) -> Any:
    """A single event name may be written without the list brackets."""
    return [value] if isinstance(value, str) else value


def _check_names(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if not name.strip():
            raise ValueError("an event name cannot be empty")
    return names


EventNames = Annotated[tuple[str, ...], BeforeValidator(_as_names)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EventRoles(_Model):
    """Which event names mean each role of the journey (each a list: several names may share a role)."""

    visit: EventNames = ("visit",)
    optin: EventNames = ("optin",)
    nurture: EventNames = ("email_sent", "email_open", "email_click")
    sales_contact: EventNames = ("sales_call", "demo_request")
    purchase: EventNames = ("purchase",)
    refund: EventNames = ("refund",)
    return_: EventNames = Field(("return",), alias="return")
    complaint: EventNames = ("complaint",)
    wow: EventNames = ("thank_you",)
    testimonial: EventNames = ("testimonial",)
    upsell_offer: EventNames = ("upsell_offer",)
    upsell_purchase: EventNames = ("upsell_purchase",)
    referral_request: EventNames = ("referral_request",)
    referred_signup: EventNames = ("optin",)

    @field_validator("*")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_names(value)


class PropertyNames(_Model):
    """Which event property holds each well-known fact (DESIGN section 2)."""

    source: str = "source"
    capture: str = "capture"
    product: str = "product"
    lead_type: str = "lead_type"
    revenue: str = "revenue"
    currency: str = "currency"
    referrer: str = "referrer_id"
    wow_kind: str = "kind"
    outcome: str = "outcome"


class Targets(_Model):
    """The rate each stage transition should reach; below it (significantly), the transition leaks."""

    visitor_to_lead: Rate = 0.15
    lead_to_customer: Rate = 0.05
    sales_contact_to_customer: Rate = 0.20
    customer_kept: Rate = 0.90
    customer_wow: Rate = 0.50
    customer_upsell_offer: Rate = 0.50
    upsell_offer_to_purchase: Rate = 0.25
    customer_referral_request: Rate = 0.50
    referral_request_to_referral: Rate = 0.30


class Thresholds(_Model):
    """When the audit calls something consistent, concentrated or a leak."""

    consistent_share: Rate = 0.75
    concentration_top_share: Rate = 0.50
    concentration_hhi: float = Field(2500.0, ge=0.0, le=10000.0)
    min_segment: int = Field(30, ge=1)
    significance_z: float = Field(3.0, gt=0.0)


class JourneyConfig(_Model):
    """The whole journey config; every field has a default, so an empty file is a valid config."""

    events: EventRoles = Field(default_factory=EventRoles)
    properties: PropertyNames = Field(default_factory=PropertyNames)
    playbooks: dict[str, str] = Field(default_factory=lambda: {
        "smb": "one discovery call, then a proposal by email",
        "mid_market": "a discovery call and a demo, then a proposal",
        "enterprise": "discovery, demo and procurement calls with a named account executive",
    })
    targets: Targets = Field(default_factory=Targets)
    gross_margin: Rate = 0.60
    horizons_months: tuple[int, ...] = (3, 6, 12, 18)
    conversion_horizon_months: int = Field(12, ge=1, le=120)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("horizons_months")
    @classmethod
    def _horizons(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("give at least one horizon, e.g. [3, 6, 12, 18]")
        if any(h <= 0 or h > 120 for h in value):
            raise ValueError("horizons are whole months between 1 and 120")
        if list(value) != sorted(set(value)):
            raise ValueError("horizons must be increasing, without repeats")
        return value


def default_config_text() -> str:
    """The commented default ``journey.yaml`` that ``buyerjourney init`` writes."""
    return resources.files("buyerjourney").joinpath(DEFAULT_CONFIG_NAME).read_text(encoding="utf-8")


def parse_config(data: Any, *, source: str = "<config>") -> JourneyConfig:
    """Validate a parsed YAML/JSON document; ``source`` names it in errors."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of keys to values, not {type(data).__name__}")
    try:
        return JourneyConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise ConfigError(f"{source}: {key}: {_explain(error)}", field=key) from None


def load_config(path: str | Path) -> JourneyConfig:
    """Read and validate ``journey.yaml`` at ``path``."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no config file at {target}: write one with `buyerjourney init`",
                            field="config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: cannot read the file: {exc}", field="config") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{target}: not valid YAML{where}: {problem}", field="config") from None
    return parse_config(data, source=str(target))


def _explain(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        allowed = _keys_at(error["loc"][:-1])
        return "unknown key" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{message} (got {error.get('input')!r})"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` (a path into :class:`JourneyConfig`), for an unknown-key message."""
    model: Any = JourneyConfig
    for part in loc:
        field = model.model_fields.get(str(part)) if isinstance(model, type) else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [info.alias or name for name, info in model.model_fields.items()]
