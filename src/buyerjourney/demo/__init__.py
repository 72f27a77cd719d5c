"""The demo business: a seeded generator of a small business's whole buyer journey, and its first summary."""

from __future__ import annotations

from buyerjourney.demo.business import BUSINESS, PLANTED_LEAKS, Business, PlantedLeak
from buyerjourney.demo.generator import (
    DEFAULT_LEADS,
    DEFAULT_SEED,
    EVENT_NAMES,
    DemoData,
    DemoGenerator,
    generate,
)

__all__ = [
    "BUSINESS",
    "DEFAULT_LEADS",
    "DEFAULT_SEED",
    "EVENT_NAMES",
    "PLANTED_LEAKS",
    "Business",
    "DemoData",
    "DemoGenerator",
    "PlantedLeak",
    "generate",
]
