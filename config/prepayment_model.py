"""The tenant file's ``prepayment:`` section as frozen dataclasses.

Kept apart from the marshmallow schema (``config.prepayment``) because the pure rules in
``pipelines.prepayment`` read these types and must not import a validation library.
Secrets are never here: ``*_env`` fields name the environment variables that hold them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

LIQPAY_CHECKOUT_URL = "https://www.liqpay.ua/api/3/checkout"
LIQPAY_API_URL = "https://www.liqpay.ua/api/request"
WAYFORPAY_PAY_URL = "https://secure.wayforpay.com/pay"
WAYFORPAY_API_URL = "https://api.wayforpay.com/api"
# The public test merchant of WayForPay's SDKs: anyone can sign callbacks for it (spec/payments.md §2.8).
WAYFORPAY_PUBLIC_TEST_ACCOUNT = "test_merch_n1"


class AmountKind(StrEnum):
    FIXED = "fixed"  # the same sum for every matching booking
    PERCENT = "percent"  # a share of the matched services' price
    HOURLY = "hourly"  # the specialist's hourly rate times the booking's duration


class TooClose(StrEnum):
    """What to do with a booking made so close to the visit that the usual deadline cannot be met."""

    IMMEDIATE = "immediate"  # ask for payment within ``immediate_minutes``
    SKIP = "skip"  # no prepayment for it


class PaidThenCancelled(StrEnum):
    """What happens to a paid prepayment when the client cancels the booking."""

    KEEP = "keep"  # kept as a deposit (the client's balance keeps it)
    REFUND_REQUEST = "refund_request"  # staff get a task to refund it


@dataclass(frozen=True)
class Period:
    """Visit dates from ``start`` to ``end``, both included, in the tenant's time zone."""

    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class AmountSpec:
    kind: AmountKind
    value: Decimal  # the sum, the percent, or the default hourly rate
    staff_rates: Mapping[str, Decimal] = field(default_factory=dict, hash=False)  # hourly: staff id -> rate
    minimum: Decimal | None = None
    maximum: Decimal | None = None


@dataclass(frozen=True)
class PrepaymentRule:
    """Bookings this rule asks a prepayment for. Selectors of one kind match any of their values; a rule
    with no service selector (services, categories, promo) matches every service."""

    name: str
    services: tuple[str, ...] = ()  # service ids or exact titles
    categories: tuple[str, ...] = ()
    promo: bool = False  # the section's ``promo_services``
    periods: tuple[Period, ...] = ()  # the visit date must fall in one of them (none: any date)
    branches: tuple[str, ...] = ()  # branch ids (none: every branch)
    amount: AmountSpec | None = None  # None: the section's ``amount``

    @property
    def selects_services(self) -> bool:
        return bool(self.services or self.categories or self.promo)


@dataclass(frozen=True)
class Exemptions:
    """Clients who book without prepayment (club members, regulars)."""

    tags: tuple[str, ...] = ()
    card_types: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    completed_visits: int | None = None  # at least this many completed visits


@dataclass(frozen=True)
class DeadlineRule:
    hours_after_booking: int = 24  # the client has this long after booking ...
    hours_before_visit: int = 12  # ... but must have paid this long before the visit
    too_close: TooClose = TooClose.IMMEDIATE
    immediate_minutes: int = 30  # the shortest time ever given to pay


@dataclass(frozen=True)
class LiqPaySettings:
    public_key_env: str
    private_key_env: str
    signature: str = "sha1"  # "sha1" (API version 3) or "sha3-256" (API version 7)
    sandbox: bool = False  # test payments: ``sandbox: 1`` in requests, status "sandbox" counts as paid
    checkout_url: str = LIQPAY_CHECKOUT_URL
    api_url: str = LIQPAY_API_URL

    @property
    def version(self) -> int:
        return 7 if self.signature == "sha3-256" else 3


@dataclass(frozen=True)
class WayForPaySettings:
    merchant_account: str  # not a secret: it is in every payment form
    secret_key_env: str
    domain: str  # merchantDomainName, signed into every purchase
    pay_url: str = WAYFORPAY_PAY_URL
    api_url: str = WAYFORPAY_API_URL
    test_mode: bool = False  # allows the public test merchant


@dataclass(frozen=True)
class PrepaymentTemplates:
    """Message template ids the executor renders for the client."""

    link: str = "prepayment_link"
    paid: str = "prepayment_paid"
    expired: str = "prepayment_expired"


@dataclass(frozen=True)
class PrepaymentConfig:
    provider: str  # the provider new payment links use
    rules: tuple[PrepaymentRule, ...]
    liqpay: LiqPaySettings | None = None
    wayforpay: WayForPaySettings | None = None
    currency: str | None = None  # None: the tenant's currency
    amount: AmountSpec | None = None  # for rules without their own
    promo_services: tuple[str, ...] = ()
    exempt: Exemptions = field(default_factory=Exemptions)
    deadline: DeadlineRule = field(default_factory=DeadlineRule)
    paid_then_cancelled: PaidThenCancelled = PaidThenCancelled.KEEP
    templates: PrepaymentTemplates = field(default_factory=PrepaymentTemplates)
    enabled: bool = True

    def provider_settings(self, name: str) -> LiqPaySettings | WayForPaySettings | None:
        """The named provider's settings when this tenant has them (callbacks of an old provider still land)."""
        return {"liqpay": self.liqpay, "wayforpay": self.wayforpay}.get(name)

    def currency_for(self, tenant_currency: str) -> str:
        return self.currency or tenant_currency
