"""What every payment provider adapter offers, and the errors it raises.

An adapter gets the raw callback bytes and returns a verified ``PaymentReport`` plus the exact HTTP
answer the provider expects (an empty 200 for LiqPay, a signed ``accept`` for WayForPay), so the
core never needs to know how a provider signs (spec/payments.md §5.3). Error messages never carry
a secret: they name what was wrong, not the values compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from bridge.acceptance import check_document
from bridge.booking.errors import PayloadError
from pipelines.prepayment import PaymentReport

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class CheckoutOrder:
    """One payment attempt, as the client will pay it."""

    order_ref: str  # bk-<booking>-<attempt>
    amount: Decimal  # already rounded to the currency's minor unit
    currency: str
    description: str  # shown to the client on the provider's page
    callback_url: str  # our /hooks/<tenant>/pay/<provider>
    created_at: datetime  # WayForPay signs it as orderDate
    expires_at: datetime | None = None  # the provider's own guard; our deadline is the authority
    result_url: str | None = None  # where the client's browser goes afterwards (never proof of payment)
    language: str = "uk"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    content_type: str


class PaymentError(Exception):
    """Base of the adapters' errors."""


class SignatureError(PaymentError):
    """The callback's signature does not verify (or is missing): answer 403, change nothing."""


class CallbackError(PaymentError):
    """The callback cannot be read (not the documented shape)."""


def readable(message: dict) -> None:
    """The intake rule every source follows (``bridge.acceptance``): no lone surrogates, NUL, endless
    nesting or numbers out of range in a callback's decoded body; else CallbackError (400)."""
    try:
        check_document(message)
    except PayloadError as exc:
        raise CallbackError(exc.describe()) from None


REPORT_WIDTHS = {"order_ref": 128, "provider_status": 32, "provider_payment_id": 64, "currency": 3}


def storable(report: PaymentReport) -> None:
    """Each text of a report fits where it is stored; else CallbackError (400)."""
    for name, width in REPORT_WIDTHS.items():
        value = getattr(report, name)
        if value is not None and (not isinstance(value, str) or len(value) > width):
            raise CallbackError(f"{name} is not a text of at most {width} characters")


class NotOurs(PaymentError):
    """A verified callback that is not for this merchant or not for a payment we asked for: logged,
    answered 200 so the provider stops retrying, and nothing changes."""

    def __init__(self, reason: str, order_ref: str | None = None) -> None:
        super().__init__(reason)
        self.order_ref = order_ref


class ProviderError(PaymentError):
    """The provider refused a request or could not be reached; ``retryable`` when trying later may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotConfigured(PaymentError):
    """The tenant has no settings or no secrets for the provider."""


class PaymentProvider(Protocol):
    name: str

    def checkout(self, order: CheckoutOrder) -> str:
        """The link to send the client (may call the provider's API)."""
        ...

    def parse_callback(self, body: bytes, content_type: str) -> PaymentReport:
        """Verify a server-to-server callback and read it; raises SignatureError, CallbackError, NotOurs."""
        ...

    def answer(self, order_ref: str | None, now: datetime) -> HttpAnswer:
        """What to answer a callback that was verified and stored (``order_ref`` None: not readable)."""
        ...

    def query_status(self, order_ref: str) -> PaymentReport | None:
        """The provider's current status of the order; None when the provider does not know it."""
        ...

    def cancel(self, order_ref: str) -> None:
        """Make the order's link unpayable where the provider allows it (used when it expires)."""
        ...
