"""Open a payment attempt for a booking and get the link the client pays by.

The executor calls ``open_payment`` for a ``PrepaymentDecision`` that is ``required``. It is safe to
call again for the same booking: an attempt still open for payment is returned with its stored link
instead of asking the provider for a second one (both providers refuse a reused order reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bridge.payments.base import CheckoutOrder, PaymentProvider
from bridge.payments.registry import provider_for
from bridge.store import prepayments as repo
from bridge.store.db import Store
from config.tenants import Tenant
from pipelines.prepayment import PAYABLE


@dataclass(frozen=True)
class OpenedPayment:
    prepayment_id: int
    order_ref: str
    url: str
    created: bool  # False: the booking's open attempt was returned


def callback_url(public_url: str, tenant: str, provider: str) -> str:
    return f"{public_url.rstrip('/')}/hooks/{tenant}/pay/{provider}"


def open_payment(
    store: Store,
    tenant: Tenant,
    *,
    booking_id: str,
    amount: Decimal,
    currency: str,
    deadline_at: datetime,
    description: str,
    public_url: str,
    now: datetime,
    client_id: int | None = None,
    rule: str | None = None,
    branch: str | None = None,
    visit_at: datetime | None = None,
    result_url: str | None = None,
    provider: PaymentProvider | None = None,
) -> OpenedPayment:
    """Create (or find) the booking's open attempt, then its checkout link (WayForPay: an API call, made
    outside any transaction). Raises ``ProviderError`` when the provider refuses; the attempt stays
    without a link and the next call asks again."""
    adapter = provider or provider_for(tenant)
    with store.session() as s:
        row, created = repo.create_attempt(
            s, tenant=tenant.slug, booking_id=booking_id, provider=adapter.name, amount=amount, currency=currency,
            deadline_at=deadline_at, now=now, client_id=client_id, rule=rule, branch=branch, visit_at=visit_at,
            description=description[:255])
        if row.checkout_url:
            return OpenedPayment(row.id, row.order_ref, row.checkout_url, False)
        order = CheckoutOrder(row.order_ref, repo.expected_amount(row), row.currency, description,
                              callback_url(public_url, tenant.slug, row.provider), now, row.deadline_at,
                              result_url, tenant.language)
        row_id, order_ref, row_provider = row.id, row.order_ref, row.provider
    if row_provider != adapter.name:  # an attempt opened before the tenant switched provider
        adapter = provider_for(tenant, row_provider)
    url = adapter.checkout(order)
    with store.session() as s:
        repo.set_checkout_url(s, row_id, url)
    return OpenedPayment(row_id, order_ref, url, created)


def link_for_booking(store: Store, tenant: Tenant, booking_id: str, public_url: str, now: datetime) -> str | None:
    """The checkout link of the booking's attempt still open for payment (made now if it has none yet);
    None when nothing is open any more (paid, cancelled or expired before the message went out)."""
    with store.session() as s:
        row = repo.latest_for_booking(s, tenant.slug, booking_id)
        if row is None or repo.status_of(row) not in PAYABLE:
            return None
        if row.checkout_url:
            return row.checkout_url
        values = dict(amount=row.amount, currency=row.currency, deadline_at=row.deadline_at,
                      description=row.description or booking_id, client_id=row.client_id, rule=row.rule,
                      branch=row.branch, visit_at=row.visit_at)
    opened = open_payment(store, tenant, booking_id=booking_id, public_url=public_url, now=now, **values)
    return opened.url
