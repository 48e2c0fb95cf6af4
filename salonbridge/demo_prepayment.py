"""The demo's paid bookings (seed 003): two new clients book a service that asks for a prepayment; one
pays on the (fake) LiqPay page, the other lets the deadline pass and the clock expires it.

The fake LiqPay is ``payment_sandbox`` in this process; the links go out as the tenant's messages, the
payment comes back as LiqPay's signed callback to the web process, and the expiry is the clock's own
``prepayment-deadlines`` task, the deadline being brought forward to now (nobody waits a day in a demo).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
import requests

from bridge.services import Services
from bridge.store import prepayments as repo
from bridge.store.models import PrepaymentRow
from salonbridge import synthetic

PUBLIC_KEY = "sandbox_i00000demo"
PUBLIC_ENV, PRIVATE_ENV = "SALONBRIDGE_DEMO_LIQPAY_PUBLIC", "SALONBRIDGE_DEMO_LIQPAY_PRIVATE"
SERVICE = synthetic.Service("1901", "Фарбування + догляд (з передоплатою)", "Фарбування", 42, 2400, 180)
CLIENTS = ((790001, "Ольга Демченко", "+380501110001"), (790002, "Ірина Паламар", "+380501110002"))


def tenant_section(pay_url: str) -> str:
    """The ``prepayment:`` section: 20 % of this one service, through the sandbox's LiqPay."""
    return f"""prepayment:
  provider: liqpay
  liqpay:
    public_key_env: {PUBLIC_ENV}
    private_key_env: {PRIVATE_ENV}
    checkout_url: {pay_url}/api/3/checkout
    api_url: {pay_url}/api/request
  amount: {{percent: 20}}
  rules:
    - {{name: deposit, services: ["{SERVICE.id}"]}}
"""


def bookings(now: datetime) -> list[dict[str, Any]]:
    """Two bookings made just now for five days ahead, as YCLIENTS would post them."""
    branch, master = synthetic.BRANCHES[0][0], synthetic.MASTERS[0]
    out = []
    for n, (client_id, name, phone) in enumerate(CLIENTS):
        client = synthetic.SyntheticClient(client_id, name, phone, None, (SERVICE.category,), None)
        at = (now + timedelta(days=5)).astimezone(ZoneInfo(synthetic.TIMEZONE)).replace(hour=11 + 3 * n, minute=0,
                                                                                   second=0, microsecond=0)
        record = {**synthetic.make_record(990001 + n, client, branch, master, SERVICE, at),
                  "create_date": now.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "last_change_date": now.strftime("%Y-%m-%dT%H:%M:%S%z")}
        out.append({"company_id": record["company_id"], "resource": "record", "resource_id": record["id"],
                    "status": "create", "data": record})
    return out


def _row(svc: Services, slug: str, booking_id: str) -> PrepaymentRow | None:
    with svc.store.session() as s:
        return repo.latest_for_booking(s, slug, booking_id)


def pay_and_expire(svc: Services, slug: str, wait: Any) -> list[PrepaymentRow]:
    """The first booking's client pays on the provider's page; the second's deadline passes."""
    paid_id, unpaid_id = (str(b["resource_id"]) for b in bookings(datetime.now(UTC)))
    link = wait(lambda: (_row(svc, slug, paid_id) or PrepaymentRow()).checkout_url, 60, "the payment link")
    page = requests.get(link, timeout=10)
    page.raise_for_status()
    requests.post(f"{page.url}/paid", timeout=15).raise_for_status()  # the client presses "Pay"
    unpaid = wait(lambda: _row(svc, slug, unpaid_id), 60, "the second prepayment")
    with svc.store.session() as s:  # the client's time is up
        row = s.get(PrepaymentRow, unpaid.id)
        row.deadline_at = row.updated_at = datetime.now(UTC) - timedelta(minutes=10)
    wait(lambda: (_row(svc, slug, unpaid_id) or PrepaymentRow()).status == "expired", 90, "the expiry")
    return [r for r in (_row(svc, slug, paid_id), _row(svc, slug, unpaid_id)) if r is not None]


def print_prepayments(rows: list[PrepaymentRow]) -> None:
    click.echo("prepayments (LiqPay sandbox)")
    for row in rows:
        receipt = f", receipt {row.receipt_number}" if row.receipt_number else ""
        click.echo(f"  {row.order_ref:<14} {row.amount:.2f} {row.currency}  {row.status}{receipt}")
