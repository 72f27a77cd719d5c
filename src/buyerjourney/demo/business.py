"""The demo business: what it sells, how it is found, and the rates that drive its buyer journey.

Everything the generator draws from is declared here as data, so the generator holds no magic numbers
and :data:`PLANTED_LEAKS` (the facts the audit must find) is derived from the same values the data is
generated from. Rates are probabilities per lead or per customer; times are in days unless named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

#: The last instant of history (exclusive): every generated event happens before it.
END = datetime(2025, 7, 1, tzinfo=UTC)
#: Months of history before :data:`END`.
HISTORY_MONTHS = 24
#: Days in an average month, for delays written in months.
MONTH_DAYS = 30.44

SOURCES = ("organic", "paid_search", "social", "email", "referral", "direct")
CAPTURES = ("guide", "webinar", "case_study")
LEAD_TYPES = ("consumer", "smb", "mid_market", "enterprise")
COMPANY_SIZES = ("1", "2-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")
INDUSTRIES = ("ecommerce", "education", "finance", "healthcare", "manufacturing", "media",
              "professional_services", "software")
ROLES = ("individual", "founder", "marketing", "sales", "operations", "engineering")
#: Pages a visitor sees besides the landing page of its capture (``/{product}/{capture}``).
GENERAL_PAGES = ("/", "/blog", "/pricing", "/about")
THANK_YOU_KINDS = ("call", "card", "gift")
CALL_OUTCOMES = ("won", "follow_up", "lost", "no_decision")
WELCOME_EMAILS = 5
WELCOME_DAYS = (0.0, 2.0, 5.0, 9.0, 14.0)


@dataclass(frozen=True)
class Product:
    """A product with its price, its lead captures, who it attracts and how its customers fare."""

    name: str
    price: float
    share: float  # share of marketing leads that opt in for this product's captures
    captures: dict[str, float]  # capture -> share of this product's leads
    lead_types: dict[str, float]  # lead type -> share of this product's leads
    eventual_rate: float  # base probability that a lead eventually buys (before multipliers)
    refund_rate: float  # per customer without a wow touch
    return_rate: float
    complaint_rate: float  # per customer who is not refunded (refunded customers complain more)
    upsell_product: str
    upsell_price: float
    price_note: str = ""


@dataclass(frozen=True)
class Source:
    """A traffic source: its share of marketing leads, how those leads buy, and its cost."""

    name: str
    share: float
    buy_multiplier: float
    cost_per_click: float = 0.0  # paid sources: USD per visit
    paid: bool = False


@dataclass(frozen=True)
class Capture:
    """A lead-capture mechanism: visitors exposed to it opt in at ``optin_rate``."""

    name: str
    optin_rate: float
    buy_multiplier: float


@dataclass(frozen=True)
class LeadType:
    """A kind of lead with its sales playbook (calls before a purchase) and company sizes."""

    name: str
    sales_calls: int  # calls a buyer of this type gets before buying (0: no playbook, sold by email)
    buy_multiplier: float
    sizes: dict[str, float]
    roles: dict[str, float]


@dataclass(frozen=True)
class TimeToPurchase:
    """How long eventual buyers take from opt-in to purchase: a mixture of three parts (months).

    ``fast`` buyers take 2 days to 3 months, ``mid`` buyers 3 to 18 months, ``slow`` buyers 18 to 48
    months; so about half of eventual buyers buy within 18 months, and most of the buyers seen in two
    years of history bought 3 to 18 months after opting in.
    """

    fast: float = 0.10
    mid: float = 0.42
    slow: float = 0.48
    mid_beta: tuple[float, float] = (1.6, 2.6)  # shape of the 3-18 month part (mode near 7 months)
    slow_beta: tuple[float, float] = (1.2, 1.8)


@dataclass(frozen=True)
class Business:
    """The whole demo business."""

    name: str
    products: tuple[Product, ...]
    sources: tuple[Source, ...]
    captures: tuple[Capture, ...]
    lead_types: tuple[LeadType, ...]
    time_to_purchase: TimeToPurchase = field(default_factory=TimeToPurchase)
    growth_per_year: float = 0.35  # leads grow by this share a year (log rate)
    seasonality: float = 0.12  # amplitude of the yearly swing in traffic
    visits_before_optin: float = 1.2  # extra visits (Poisson mean) a lead makes before opting in
    visits_per_leaker: float = 0.3  # extra visits (Poisson mean) of a visitor who never opts in
    first_visit_days: float = 21.0  # a lead's first visit is up to this long before its opt-in
    leaker_spread_days: float = 20.0  # visitors who leak arrive around the leads' dates (normal sd)
    other_product_share: float = 0.10  # buyers who buy another product than the one they opted in for
    discounts: dict[float, float] = field(default_factory=lambda: {0.0: 0.7, 0.1: 0.2, 0.2: 0.1})
    nurture_rate: float = 0.92  # leads who confirm their subscription and so get the emails
    newsletter_months: float = 9.0  # mean months a lead keeps reading the monthly newsletter
    open_rate: float = 0.28  # per email for a lead who will not buy soon
    buyer_open_rate: float = 0.5
    welcome_open_bonus: float = 0.12
    click_rate: float = 0.18  # per opened email
    buyer_click_rate: float = 0.3
    cold_call_rate: float = 0.35  # B2B leads who do not buy: share who get one sales call anyway
    demo_request_products: tuple[str, ...] = ("coaching", "software")
    buyer_demo_request_rate: float = 0.5
    lead_demo_request_rate: float = 0.04
    thank_you_rate: float = 0.12  # customers given a wow touch (a leak: few are)
    thank_you_kinds: dict[str, float] = field(default_factory=lambda: {"call": 0.5, "card": 0.35, "gift": 0.15})
    wow_refund_factor: float = 0.35  # a wow touch multiplies the refund probability by this
    refund_complaint_rate: float = 0.45  # refunded customers who also complain
    testimonial_rate: float = 0.05  # customers without a wow touch who give a testimonial
    wow_testimonial_rate: float = 0.30
    upsell_offer_rate: float = 0.20  # customers offered an upsell (a leak: few are)
    upsell_buy_rate: float = 0.35  # of those offered
    upsell_delay_days: tuple[float, float] = (60.0, 240.0)
    referral_ask_rate: float = 0.08  # customers asked for a referral (a leak: few are)
    referral_yes_rate: float = 0.50  # asked customers who refer at least one person
    extra_referrals: float = 0.4  # Poisson mean of further people a referring customer brings
    spontaneous_referral_rate: float = 0.015  # customers never asked who refer one person anyway
    referred_buy_multiplier: float = 2.0  # on top of the referral source's multiplier
    email_tool_monthly: float = 149.0  # spend on the email platform (source "email")

    def product(self, name: str) -> Product:
        """The product called ``name``."""
        return next(p for p in self.products if p.name == name)

    def source(self, name: str) -> Source:
        """The traffic source called ``name``."""
        return next(s for s in self.sources if s.name == name)

    def capture(self, name: str) -> Capture:
        """The lead capture called ``name``."""
        return next(c for c in self.captures if c.name == name)


_B2B_ROLES = {"founder": 0.3, "marketing": 0.25, "sales": 0.2, "operations": 0.15, "engineering": 0.1}

BUSINESS = Business(
    name="Northwind Growth Academy",
    products=(
        Product("course", 500.0, share=0.50,
                captures={"guide": 0.55, "webinar": 0.15, "case_study": 0.30},
                lead_types={"consumer": 0.55, "smb": 0.35, "mid_market": 0.10},
                eventual_rate=0.25, refund_rate=0.045, return_rate=0.02, complaint_rate=0.03,
                upsell_product="course_advanced", upsell_price=300.0),
        Product("coaching", 2000.0, share=0.20,
                captures={"guide": 0.45, "webinar": 0.25, "case_study": 0.30},
                lead_types={"consumer": 0.25, "smb": 0.50, "mid_market": 0.20, "enterprise": 0.05},
                eventual_rate=0.16, refund_rate=0.27, return_rate=0.01, complaint_rate=0.06,
                upsell_product="mastermind", upsell_price=3000.0),
        Product("software", 1080.0, share=0.30,
                captures={"guide": 0.60, "case_study": 0.40},
                lead_types={"smb": 0.45, "mid_market": 0.35, "enterprise": 0.20},
                eventual_rate=0.22, refund_rate=0.04, return_rate=0.03, complaint_rate=0.04,
                upsell_product="software_team", upsell_price=600.0,
                price_note="$90 a month, billed yearly"),
    ),
    sources=(
        Source("organic", 0.27, buy_multiplier=1.0),
        Source("paid_search", 0.20, buy_multiplier=1.1, cost_per_click=2.40, paid=True),
        Source("social", 0.28, buy_multiplier=0.25, cost_per_click=0.90, paid=True),
        Source("email", 0.08, buy_multiplier=1.3),
        Source("referral", 0.05, buy_multiplier=1.5),
        Source("direct", 0.12, buy_multiplier=1.2),
    ),
    captures=(
        Capture("guide", optin_rate=0.32, buy_multiplier=0.9),
        Capture("webinar", optin_rate=0.07, buy_multiplier=1.4),
        Capture("case_study", optin_rate=0.24, buy_multiplier=1.2),
    ),
    lead_types=(
        LeadType("consumer", sales_calls=0, buy_multiplier=0.9, sizes={"1": 1.0}, roles={"individual": 1.0}),
        LeadType("smb", sales_calls=1, buy_multiplier=1.0, sizes={"2-10": 0.6, "11-50": 0.4}, roles=_B2B_ROLES),
        LeadType("mid_market", sales_calls=2, buy_multiplier=1.1, sizes={"51-200": 0.6, "201-1000": 0.4},
                 roles=_B2B_ROLES),
        LeadType("enterprise", sales_calls=3, buy_multiplier=1.3, sizes={"1001-5000": 0.7, "5000+": 0.3},
                 roles={"founder": 0.05, "marketing": 0.35, "sales": 0.25, "operations": 0.2, "engineering": 0.15}),
    ),
)


@dataclass(frozen=True)
class PlantedLeak:
    """A leak built into the demo business on purpose, so the audit has something true to find.

    ``metric`` is computed per value of ``dimension``; ``subject`` is the value that leaks, with the
    intended rate ``intended`` against ``baseline`` (the others). Rates are as generated; observed
    conversion rates are lower than eventual ones because recent leads have not bought yet.
    """

    id: str
    stage: int  # 1..7 as in DESIGN section 1
    title: str
    dimension: str  # source | capture | product | customers
    subject: str
    metric: str
    intended: float
    baseline: float
    how: str


def _planted_leaks(business: Business) -> tuple[PlantedLeak, ...]:
    social = business.source("social")
    others = [s.buy_multiplier for s in business.sources if s.name != "social"]
    webinar = business.capture("webinar")
    coaching = business.product("coaching")
    wow_mix = (1 - business.thank_you_rate) + business.thank_you_rate * business.wow_refund_factor
    refund_elsewhere = max(p.refund_rate for p in business.products if p.name != "coaching") * wow_mix
    return (
        PlantedLeak(
            "social_leads_rarely_buy", 1, "social brings many leads but few sales", "source", "social",
            "lead_to_customer_rate", intended=social.buy_multiplier, baseline=min(others),
            how="customers / leads per source (first-touch source on the opt-in); intended and baseline are "
                "multipliers on the eventual purchase probability: social x0.25 vs at least x1.0 elsewhere"),
        PlantedLeak(
            "webinar_poor_optin", 2, "the webinar capture has a poor opt-in rate", "capture", "webinar",
            "optin_rate", intended=webinar.optin_rate,
            baseline=min(c.optin_rate for c in business.captures if c.name != "webinar"),
            how="opt-ins with capture=webinar / distinct visitors shown the webinar capture"),
        PlantedLeak(
            "coaching_refunds", 5, "coaching has a high refund rate", "product", "coaching", "refund_rate",
            intended=round(coaching.refund_rate * wow_mix, 4), baseline=round(refund_elsewhere, 4),
            how="refunded customers / customers of the product (refund probability x0.35 after a wow touch)"),
        PlantedLeak(
            "few_wow_touches", 5, "few customers get a thank-you touch", "customers", "thank_you",
            "share_of_customers", intended=business.thank_you_rate, baseline=0.5,
            how="customers with a thank_you / customers (a wow touch cuts refunds to x0.35 and lifts "
                "testimonials from 5% to 30%)"),
        PlantedLeak(
            "few_upsell_offers", 6, "few customers are offered an upsell", "customers", "upsell_offer",
            "share_of_customers", intended=business.upsell_offer_rate, baseline=0.5,
            how="customers with an upsell_offer / customers; 35% of those offered buy"),
        PlantedLeak(
            "few_referral_requests", 7, "few customers are asked for referrals", "customers", "referral_request",
            "share_of_customers", intended=business.referral_ask_rate, baseline=0.5,
            how="customers with a referral_request / customers; half of those asked refer someone"),
    )


#: The leaks the demo business has on purpose (see the module docstring of :mod:`buyerjourney.demo.generator`).
PLANTED_LEAKS: tuple[PlantedLeak, ...] = _planted_leaks(BUSINESS)
