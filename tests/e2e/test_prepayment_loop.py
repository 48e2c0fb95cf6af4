"""Paid booking end to end, over real HTTP: a booking a rule selects → its Sales lead waits at the
prepayment stage (the grey clock) → the link by SMS → the client pays at the (fake) provider → its signed
callback → the lead moves on to First booking with its prepayment status, a note and the client's
thank-you, income in the ledger, the client's balance topped up on the card and on the amoCRM contact,
the receipt on the YCLIENTS visit; and a booking nobody pays expires at its deadline: the lead goes to
Cancelled, the YCLIENTS visit is cancelled, or, where the booking system cannot be told, staff get a
task to free the slot."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from bridge import intake
from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from bridge.store import prepayments as repo
from bridge.store.models import Client, LedgerEntry
from jobs import booking_commands
from jobs.crm_sync import drain
from jobs.messages import send_due
from jobs.payments import expire
from jobs.worker import run_worker
from payment_sandbox import running
from pipelines.stages import PREPAYMENT
from salonbridge.cli import main
from tests.e2e.conftest import connected_salon
from tests.e2e.test_playbook_sandbox import booking
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway
from tests.fakes.yclients import FakeYclients
from webhooks.app import create_app

pytestmark = pytest.mark.slow
LP_PUBLIC, LP_PRIVATE = "sandbox_i33333333", "lp-private-key-of-the-loop"


@pytest.fixture
def yclients_api():
    """None: the salon's YCLIENTS has no API credentials (webhooks only); the fake otherwise."""
    return None


@pytest.fixture
def salon(settings, tmp_path, monkeypatch, yclients_api):
    gateway = FakeSmsGateway()
    with (running({LP_PUBLIC: LP_PRIVATE}, {}) as pay_url, serve(gateway.app()) as sms_url,
          serve(yclients_api.app if yclients_api else gateway.app()) as yc_url):
        booking_api = ""
        if yclients_api is not None:
            monkeypatch.setenv("SALON_YC_PARTNER", yclients_api.partner_token)
            monkeypatch.setenv("SALON_YC_USER", yclients_api.user_token)
            booking_api = (f"  api_url: {yc_url}/api/v1\n  partner_token_env: SALON_YC_PARTNER\n"
                           "  user_token_env: SALON_YC_USER\n")
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
        with (connected_salon(settings, tmp_path, monkeypatch, tenant_extra=extra, booking_extra=booking_api)
              as (svc, _),
              serve(create_app(services=svc)) as web):
            svc.settings = dataclasses.replace(svc.settings, public_url=web)  # where callbacks come back
            yield svc, gateway, pay_url


def first_booking(svc, record_id: int, *, days: int = 3, yclients: FakeYclients | None = None) -> str:
    now = datetime.now(UTC)
    body = booking(record_id, when=now + timedelta(days=days), changed=now - timedelta(minutes=5),
                   client_id=990000 + record_id, phone=f"+3806755{record_id:05d}")
    if yclients is not None:  # the record as the booking system's API knows it
        yclients.add_record(body["company_id"], dict(body["data"]))
    intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients", body, now)
    run_worker(svc, burst=True)
    return str(record_id)


def sms_to(gateway: FakeSmsGateway, record_id: int) -> list[str]:
    return [m["message"] for m in gateway.messages if m["phone"].endswith(f"{record_id:05d}")]


def lead_statuses(svc) -> list[str]:
    """The prepayment status shown on every lead that has one."""
    api = client_for(svc.tenants["salon"], svc)
    field = load_account_map(svc.store, "salon").fields[("leads", "prepayment_status")]
    found = []
    for lead in api.iterate("/api/v4/leads", "leads"):
        for value in lead.get("custom_fields_values") or []:
            if value["field_id"] == field.id:
                found.append(value["values"][0].get("enum_code") or value["values"][0]["value"])
    return sorted(found)


def lead_status(svc, booking_id: str) -> str | None:
    """The one lead's prepayment status (tests with a single booking)."""
    statuses = lead_statuses(svc)
    return statuses[0] if statuses else None


def lead_stages(svc) -> list[str]:
    """The stage (our key) of every lead in our pipelines."""
    api = client_for(svc.tenants["salon"], svc)
    account = load_account_map(svc.store, "salon")
    found = [account.stage_of(lead["pipeline_id"], lead["status_id"]) for lead in api.iterate("/api/v4/leads", "leads")]
    return sorted(where[1] for where in found if where is not None)


def lead_stage(svc) -> str | None:
    """The one lead's stage (tests with a single booking)."""
    [stage] = lead_stages(svc) or [None]
    return stage


def contact_balance(svc, record_id: int) -> Decimal | None:
    """The ``balance`` field of the booking's client's amoCRM contact (None: never written)."""
    api = client_for(svc.tenants["salon"], svc)
    field = load_account_map(svc.store, "salon").fields[("contacts", "balance")]
    for contact in api.iterate("/api/v4/contacts", "contacts"):
        values = contact.get("custom_fields_values") or []
        phones = [v["values"][0]["value"] for v in values if v.get("field_code") == "PHONE"]
        if phones and phones[0].endswith(f"{record_id:05d}"):
            found = [v["values"][0]["value"] for v in values if v["field_id"] == field.id]
            return Decimal(str(found[0])) if found else None
    raise AssertionError(f"no contact for booking {record_id}")


def balance(svc, row) -> Decimal | None:
    with svc.store.session() as s:
        return s.get(Client, row.client_id).balance


def tasks(svc) -> list[str]:
    return [t["text"] for t in client_for(svc.tenants["salon"], svc).iterate("/api/v4/tasks", "tasks")]


def pay(link_sms: str, button: str = "paid") -> None:
    page = requests.get(re.search(r"https?://\S+", link_sms).group(0), timeout=10)
    assert page.status_code == 200
    assert requests.post(f"{page.url}/{button}", timeout=15).status_code == 200  # the client presses it


def ledger(svc, row) -> list[tuple[str, Decimal]]:
    with svc.store.session() as s:
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.prepayment_id == row.id).order_by(LedgerEntry.id))
        return [(e.kind, e.amount) for e in entries]


def report_row(svc, booking_id: str) -> dict:
    """The booking's row of ``salonbridge report prepayments --format json``."""
    result = CliRunner().invoke(main, ["report", "prepayments", "salon", "--format", "json"],
                                env=svc.settings.to_env(), catch_exceptions=False)
    return next(r for r in json.loads(result.output) if r["booking_id"] == booking_id)


def link_sent(svc, gateway: FakeSmsGateway, record_id: int) -> str:
    send_due(svc, datetime.now(UTC))
    return next(t for t in sms_to(gateway, record_id) if "300.00 UAH" in t)


def settle_all(svc) -> None:
    """What the workers and the clock do next: the booking system told, amoCRM synced, messages sent."""
    booking_commands.run(svc, "salon", datetime.now(UTC))
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    send_due(svc, datetime.now(UTC))


def knobs(pay_url: str, **values) -> None:
    requests.post(f"{pay_url}/_sandbox/knobs", json=values, timeout=5).raise_for_status()


THANKS = "PP-"  # the "paid" message carries the receipt number


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
    assert lead_stage(svc) == PREPAYMENT  # ...and the stage it waits in

    page = requests.get(link, timeout=10)
    assert page.status_code == 200
    assert requests.post(f"{page.url}/paid", timeout=15).status_code == 200  # the client pays
    row = attempt(svc, booking_id)
    assert row.status == "paid" and row.receipt_number
    assert balance(svc, row) == Decimal("300.00")  # the client's card balance topped up
    assert booking_commands.run(svc, "salon", datetime.now(UTC)) == 0  # no YCLIENTS API here: nothing to tell
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert lead_status(svc, booking_id) == "paid"
    assert lead_stage(svc) == "first_booking"  # green: booked
    assert contact_balance(svc, 101) == Decimal("300")  # the contact's balance follows the card's
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
    assert booking_commands.run(svc, "salon", datetime.now(UTC)) == 0  # cannot cancel it through an API...
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert lead_status(svc, booking_id) == "expired"
    assert lead_stage(svc) == "cancelled"  # the visit is off
    assert contact_balance(svc, 102) is None  # nothing was paid: no balance written
    assert any(booking_id in t and "Звільніть час" in t for t in tasks(svc))  # ...so staff free the slot
    before = len(sms_to(gateway, 102))
    send_due(svc, datetime.now(UTC) + timedelta(days=1))
    held_welcome = "вітаємо"  # a welcome held out of quiet hours (a night-time run) goes out now too
    [cancelled] = [t for t in sms_to(gateway, 102)[before:] if held_welcome not in t]
    assert "не надійшла вчасно" in cancelled  # "did not arrive in time, the booking is cancelled"


@pytest.mark.parametrize("yclients_api", [FakeYclients()])
def test_with_the_yclients_api_paid_is_a_comment_on_the_visit_and_expired_cancels_it(salon, yclients_api):
    svc, gateway, _ = salon
    paid_id, unpaid_id = first_booking(svc, 201, yclients=yclients_api), first_booking(svc, 202, yclients=yclients_api)
    send_due(svc, datetime.now(UTC))
    pay(next(t for t in sms_to(gateway, 201) if "300.00 UAH" in t))
    row = attempt(svc, paid_id)
    assert row.status == "paid"
    assert booking_commands.run(svc, "salon", datetime.now(UTC)) == 1
    visit = yclients_api.record(111111, 201)
    assert row.receipt_number in visit["comment"] and "300.00 UAH" in visit["comment"]
    [put] = [r for r in yclients_api.requests if r["path"] == "/api/v1/record/111111/201" and "json" in r]
    assert put["json"]["send_sms"] is False and put["json"]["staff_id"] == 2222  # the whole record, no SMS
    assert booking_commands.run(svc, "salon", datetime.now(UTC)) == 0  # told once

    unpaid = attempt(svc, unpaid_id)
    assert expire(svc, "salon", [unpaid.id], unpaid.deadline_at + timedelta(minutes=1)) == 1
    assert booking_commands.run(svc, "salon", datetime.now(UTC)) == 1
    assert yclients_api.record(111111, 202)["deleted"] is True  # the slot is free in YCLIENTS
    assert yclients_api.record(111111, 201).get("deleted") is not True
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert lead_statuses(svc) == ["expired", "paid"]
    assert lead_stages(svc) == ["cancelled", "first_booking"]
    assert (contact_balance(svc, 201), contact_balance(svc, 202)) == (Decimal("300"), None)
    assert not any("Звільніть час" in t for t in tasks(svc))  # nobody has to free it by hand


@pytest.mark.parametrize("yclients_api", [FakeYclients()])
def test_a_visit_yclients_refuses_to_cancel_becomes_a_task_and_one_in_trouble_is_tried_again(salon, yclients_api):
    svc, _, _ = salon
    first, second = first_booking(svc, 301, yclients=yclients_api), first_booking(svc, 302, yclients=yclients_api)
    for booking_id in (first, second):
        row = attempt(svc, booking_id)
        assert expire(svc, "salon", [row.id], row.deadline_at + timedelta(minutes=1)) == 1
    yclients_api.fail_next(503)  # YCLIENTS in trouble: nothing is given up
    assert booking_commands.run(svc, "salon", datetime.now(UTC)) == 0
    yclients_api.fail_next(403, message="Access denied.")  # the user token may not delete records
    assert booking_commands.run(svc, "salon", datetime.now(UTC)) == 1
    assert [yclients_api.record(111111, n).get("deleted") for n in (301, 302)] == [False, True]
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert [t for t in tasks(svc) if "Звільніть час" in t and first in t]  # staff free the refused one
    assert not [t for t in tasks(svc) if "Звільніть час" in t and second in t]


# The other paths of the loop, each seen where people see it: the amoCRM lead, the ledger, the client's
# messages and the report.

def test_declined_is_not_final_nothing_booked_and_the_client_not_thanked(salon):
    svc, gateway, _ = salon
    booking_id = first_booking(svc, 401)
    pay(link_sent(svc, gateway, 401), "declined")
    row = attempt(svc, booking_id)
    settle_all(svc)
    assert (row.status, ledger(svc, row), lead_status(svc, booking_id)) == ("failed", [], "pending")
    assert lead_stage(svc) == PREPAYMENT  # the link still works: the lead keeps waiting
    assert not any(THANKS in t for t in sms_to(gateway, 401))
    report = report_row(svc, booking_id)
    assert (report["status"], report["failed_at"] is not None, report["receipt_number"]) == ("failed", True, None)


def test_a_duplicate_callback_books_the_income_once_and_thanks_once(salon):
    svc, gateway, pay_url = salon
    booking_id = first_booking(svc, 402)
    knobs(pay_url, callback_times=2)
    pay(link_sent(svc, gateway, 402))
    row = attempt(svc, booking_id)
    settle_all(svc)
    assert (row.status, ledger(svc, row), balance(svc, row)) == ("paid", [("income", Decimal("300"))],
                                                                 Decimal("300.00"))
    assert lead_status(svc, booking_id) == "paid"
    assert (lead_stage(svc), contact_balance(svc, 402)) == ("first_booking", Decimal("300"))  # counted once
    assert sum(row.receipt_number in t for t in sms_to(gateway, 402)) == 1
    assert report_row(svc, booking_id)["status"] == "paid"


def test_a_tampered_callback_changes_nothing_anywhere(salon):
    svc, gateway, pay_url = salon
    booking_id = first_booking(svc, 403)
    knobs(pay_url, tamper_signature=True)
    pay(link_sent(svc, gateway, 403))
    row = attempt(svc, booking_id)
    settle_all(svc)
    assert (row.status, ledger(svc, row), balance(svc, row)) == ("pending", [], None)
    assert lead_status(svc, booking_id) == "pending"
    assert (lead_stage(svc), contact_balance(svc, 403)) == (PREPAYMENT, None)
    assert not any(THANKS in t for t in sms_to(gateway, 403))
    assert report_row(svc, booking_id)["status"] == "pending"


def test_a_different_amount_is_held_and_staff_get_the_alert(salon):
    svc, gateway, pay_url = salon
    booking_id = first_booking(svc, 404)
    knobs(pay_url, pay_amount="30")
    pay(link_sent(svc, gateway, 404))
    row = attempt(svc, booking_id)
    settle_all(svc)
    assert (row.status, ledger(svc, row), balance(svc, row)) == ("held", [], None)
    assert lead_status(svc, booking_id) == "pending"  # not green
    assert (lead_stage(svc), contact_balance(svc, 404)) == (PREPAYMENT, None)  # staff decide
    assert any("Перевірте передоплату" in t and "expected 300.00 UAH" in t for t in tasks(svc))
    assert not any(THANKS in t for t in sms_to(gateway, 404))
    report = report_row(svc, booking_id)
    assert (report["status"], report["received_amount"]) == ("held", "30.00")
    assert report["alert"] == "paid 30 UAH, expected 300.00 UAH: not accepted automatically"


def test_paid_after_expiry_is_held_and_alerted_not_confirmed(salon):
    svc, gateway, _ = salon
    booking_id = first_booking(svc, 405)
    link = link_sent(svc, gateway, 405)
    row = attempt(svc, booking_id)
    assert expire(svc, "salon", [row.id], row.deadline_at + timedelta(minutes=1)) == 1
    settle_all(svc)
    assert (lead_status(svc, booking_id), lead_stage(svc)) == ("expired", "cancelled")
    pay(link)  # the provider's page still took the money
    row = attempt(svc, booking_id)
    settle_all(svc)
    assert (row.status, ledger(svc, row), balance(svc, row)) == ("held", [], None)
    assert (lead_stage(svc), contact_balance(svc, 405)) == ("cancelled", None)  # not confirmed
    assert any("paid after the prepayment was expired" in t for t in tasks(svc))
    send_due(svc, datetime.now(UTC) + timedelta(days=1))
    texts = sms_to(gateway, 405)
    assert any("не надійшла вчасно" in t for t in texts) and not any(THANKS in t for t in texts)
    report = report_row(svc, booking_id)
    assert (report["status"], report["expired_at"] is not None, report["held_at"] is not None) == ("held", True, True)


def test_a_refund_after_payment_is_booked_and_shown_as_refunded(salon):
    svc, gateway, pay_url = salon
    booking_id = first_booking(svc, 406)
    pay(link_sent(svc, gateway, 406))
    settle_all(svc)
    assert (lead_stage(svc), contact_balance(svc, 406)) == ("first_booking", Decimal("300"))
    ref = attempt(svc, booking_id).order_ref
    requests.post(f"{pay_url}/_sandbox/orders/liqpay/{ref}/refund", timeout=15).raise_for_status()
    row = attempt(svc, booking_id)
    settle_all(svc)
    assert row.status == "refunded" and lead_status(svc, booking_id) == "refunded"
    assert ledger(svc, row) == [("income", Decimal("300")), ("refund", Decimal("-300"))]
    assert balance(svc, row) == Decimal("0.00")  # topped up, then taken back
    assert contact_balance(svc, 406) == Decimal("0")  # on the contact too
    assert lead_stage(svc) == "first_booking"  # a refund says nothing about the visit: the lead stays
    assert sum(row.receipt_number in t for t in sms_to(gateway, 406)) == 1  # thanked once, before the refund
    report = report_row(svc, booking_id)
    assert (report["status"], report["refunded_at"] is not None) == ("refunded", True)
