"""Paid booking end to end, over real HTTP: a booking a rule selects → the link by SMS → the client pays
at the (fake) provider → its signed callback → the lead's prepayment status, a note and the client's
thank-you, income in the ledger; and a booking nobody pays expires at its deadline."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from bridge import intake
from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from bridge.store import prepayments as repo
from bridge.store.models import LedgerEntry
from jobs.crm_sync import drain
from jobs.messages import send_due
from jobs.payments import expire
from jobs.worker import run_worker
from payment_sandbox import running
from tests.e2e.conftest import connected_salon
from tests.e2e.test_playbook_sandbox import booking
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway
from webhooks.app import create_app

pytestmark = pytest.mark.slow
LP_PUBLIC, LP_PRIVATE = "sandbox_i33333333", "lp-private-key-of-the-loop"


@pytest.fixture
def salon(settings, tmp_path, monkeypatch):
    gateway = FakeSmsGateway()
    with running({LP_PUBLIC: LP_PRIVATE}, {}) as pay_url, serve(gateway.app()) as sms_url:
        monkeypatch.setenv("SALON_SMS_TOKEN", gateway.token)
        monkeypatch.setenv("SALON_LP_PUBLIC", LP_PUBLIC)
        monkeypatch.setenv("SALON_LP_PRIVATE", LP_PRIVATE)
        extra = (
            "rules:\n  channels:\n    sms:\n"
            f"      url: {sms_url}/api/send\n      token_env: SALON_SMS_TOKEN\n"
            "      body: {to: phone, text: message}\n      id_path: data.message_id\n"
            "prepayment:\n  provider: liqpay\n"
            "  liqpay: {public_key_env: SALON_LP_PUBLIC, private_key_env: SALON_LP_PRIVATE,\n"
            f"           checkout_url: \"{pay_url}/api/3/checkout\", api_url: \"{pay_url}/api/request\"}}\n"
            "  amount: {fixed: 300}\n  rules: [{name: all}]\n"
        )
        with (connected_salon(settings, tmp_path, monkeypatch, tenant_extra=extra) as (svc, _),
              serve(create_app(services=svc)) as web):
            svc.settings = dataclasses.replace(svc.settings, public_url=web)  # where callbacks come back
            yield svc, gateway, pay_url


def first_booking(svc, record_id: int, *, days: int = 3) -> str:
    now = datetime.now(UTC)
    body = booking(record_id, when=now + timedelta(days=days), changed=now - timedelta(minutes=5),
                   client_id=990000 + record_id, phone=f"+3806755{record_id:05d}")
    intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients", body, now)
    run_worker(svc, burst=True)
    return str(record_id)


def sms_to(gateway: FakeSmsGateway, record_id: int) -> list[str]:
    return [m["message"] for m in gateway.messages if m["phone"].endswith(f"{record_id:05d}")]


def lead_status(svc, booking_id: str) -> str | None:
    api = client_for(svc.tenants["salon"], svc)
    field = load_account_map(svc.store, "salon").fields[("leads", "prepayment_status")]
    for lead in api.iterate("/api/v4/leads", "leads"):
        for value in lead.get("custom_fields_values") or []:
            if value["field_id"] == field.id:
                return value["values"][0].get("enum_code") or value["values"][0]["value"]
    return None


def attempt(svc, booking_id: str):
    with svc.store.session() as s:
        return repo.latest_for_booking(s, "salon", booking_id)


def test_a_paid_prepayment_turns_the_lead_green_thanks_the_client_and_books_the_income(salon):
    svc, gateway, _ = salon
    booking_id = first_booking(svc, 101)
    assert attempt(svc, booking_id).status == "pending"
    send_due(svc, datetime.now(UTC))
    [link_sms] = [t for t in sms_to(gateway, 101) if "300.00 UAH" in t]
    link = re.search(r"https?://\S+", link_sms).group(0)
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert lead_status(svc, booking_id) == "pending"  # the grey clock

    page = requests.get(link, timeout=10)
    assert page.status_code == 200
    assert requests.post(f"{page.url}/paid", timeout=15).status_code == 200  # the client pays
    row = attempt(svc, booking_id)
    assert row.status == "paid" and row.receipt_number
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert lead_status(svc, booking_id) == "paid"
    send_due(svc, datetime.now(UTC))
    assert any(row.receipt_number in t for t in sms_to(gateway, 101))
    with svc.store.session() as s:
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.prepayment_id == row.id))
        assert [(e.kind, e.amount) for e in entries] == [("income", Decimal("300"))]


def test_an_unpaid_prepayment_expires_at_its_deadline_and_staff_are_asked_to_free_the_slot(salon):
    svc, gateway, _ = salon
    booking_id = first_booking(svc, 102, days=5)
    send_due(svc, datetime.now(UTC))
    row = attempt(svc, booking_id)
    assert expire(svc, "salon", [row.id], row.deadline_at - timedelta(minutes=1)) == 0  # not yet
    assert expire(svc, "salon", [row.id], row.deadline_at + timedelta(minutes=1)) == 1
    assert attempt(svc, booking_id).status == "expired"
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert lead_status(svc, booking_id) == "expired"
    api = client_for(svc.tenants["salon"], svc)
    assert any(booking_id in t["text"] for t in api.iterate("/api/v4/tasks", "tasks"))  # free the slot
    before = len(sms_to(gateway, 102))
    send_due(svc, datetime.now(UTC) + timedelta(days=1))
    [cancelled] = sms_to(gateway, 102)[before:]
    assert "не надійшла вчасно" in cancelled  # "did not arrive in time, the booking is cancelled"
