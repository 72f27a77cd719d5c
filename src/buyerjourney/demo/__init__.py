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
from buyerjourney.demo.output import fresh_demo_store, load_demo, write_demo
from buyerjourney.demo.summary import DemoSummary, summarize

__all__ = [
    "BUSINESS",
    "DEFAULT_LEADS",
    "DEFAULT_SEED",
    "EVENT_NAMES",
    "PLANTED_LEAKS",
    "Business",
    "DemoData",
    "DemoGenerator",
    "DemoSummary",
    "PlantedLeak",
    "fresh_demo_store",
    "generate",
    "load_demo",
    "summarize",
    "write_demo",
]
