"""The playbook end to end: booking webhooks → workers → amoCRM (the sandbox, over real HTTP).

Seed 000's four behaviours are checked where an amoCRM user would see them: in the task list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from bridge import intake
from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from bridge.services import Services
from jobs.crm_sync import drain
from jobs.worker import run_worker
from tests.e2e.conftest import connected_salon
from tests.helpers import yclients_record

KYIV = "%Y-%m-%d %H:%M:%S"


@pytest.fixture
def amo(settings, tmp_path, monkeypatch):
    with connected_salon(settings, tmp_path, monkeypatch) as connected:
        yield connected


def local(dt: datetime) -> str:
    return dt.astimezone(ZoneInfo("Europe/Kyiv")).strftime(KYIV)


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S%z")


def booking(record_id: int, *, when: datetime, changed: datetime, service_id: int = 3333, **kw) -> dict:
    return yclients_record(record_id, date=local(when), changed=stamp(changed), service_id=service_id, **kw)


def flush(svc: Services) -> None:
    run_worker(svc, burst=True)
    drain(svc, svc.tenants["salon"], datetime.now(UTC))


def deliver(svc: Services, *bodies: dict) -> None:
    for body in bodies:
        intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients", body, datetime.now(UTC))
    flush(svc)


def tasks(svc: Services) -> list[dict]:
    client = client_for(svc.tenants["salon"], svc)
    return sorted(client.iterate("/api/v4/tasks", "tasks"), key=lambda t: t["id"])


def periodic(svc: Services) -> list[dict]:
    return [t for t in tasks(svc) if "Манікюр" in t["text"] or "manicure" in t["text"].lower()]


def test_seed_000_in_amocrm_create_cancel_restore(amo):
    svc, _ = amo
    now = datetime.now(UTC)
    visit = now - timedelta(days=3)
    deliver(svc,
            booking(1, when=visit, changed=visit - timedelta(days=5)),
            booking(1, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1))
    [task] = periodic(svc)
    assert task["is_completed"] is False
    due = datetime.fromtimestamp(task["complete_till"], UTC)
    assert abs((due - visit).days - 21) <= 1  # deadline = visit date + the service's periodicity (21 d)

    # another category (Педикюр) leaves it active
    deliver(svc, booking(2, when=now + timedelta(days=2), changed=now - timedelta(minutes=30), service_id=4444))
    assert [t["is_completed"] for t in periodic(svc)] == [False]

    # a same-category booking cancels it, with a result saying why
    deliver(svc, booking(3, when=now + timedelta(days=5), changed=now - timedelta(minutes=20)))
    [cancelled] = periodic(svc)
    assert cancelled["is_completed"] is True and cancelled["result"]["text"]

    # that booking is cancelled: the task comes back, same deadline
    deliver(svc, booking(3, when=now + timedelta(days=5), changed=now - timedelta(minutes=10), status="delete",
                         deleted=True))
    old, restored = periodic(svc)
    assert old["is_completed"] is True and restored["is_completed"] is False
    assert restored["complete_till"] == cancelled["complete_till"]


def test_the_client_lands_in_amocrm_once_with_a_sales_lead(amo):
    svc, _ = amo
    now = datetime.now(UTC)
    first = booking(10, when=now + timedelta(days=1), changed=now - timedelta(hours=1))
    deliver(svc, first, first, first)
    client = client_for(svc.tenants["salon"], svc)
    contacts = client.find_contacts("+380671234567")
    assert len(contacts) == 1
    leads = list(client.iterate("/api/v4/leads", "leads"))
    assert len(leads) == 1
    account = load_account_map(svc.store, "salon")
    assert account.stage_of(leads[0]["pipeline_id"], leads[0]["status_id"])[1] == "first_booking"
    assert leads[0]["price"] == 650  # the booking's value: amoCRM's own revenue reports add it up
    filled = {account.fields[("leads", key)].id: key for key in ("branch", "favourite_master", "last_category",
                                                                 "last_visit")}
    values = {filled[f["field_id"]]: f["values"][0]["value"] for f in leads[0]["custom_fields_values"]
              if f["field_id"] in filled}
    assert set(values) == set(filled.values()) and values["favourite_master"] == "Анна"


def contact_patches(base_url: str) -> int:
    stats = requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()
    return stats["by_endpoint"].get("PATCH /api/v4/contacts", 0)


def test_a_returning_client_costs_one_contact_patch_and_none_when_nothing_changed(amo):
    svc, base_url = amo
    now = datetime.now(UTC)
    visit = now - timedelta(days=40)
    deliver(svc, booking(20, when=visit, changed=visit - timedelta(days=2)),
            booking(20, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1))
    before = contact_patches(base_url)

    deliver(svc, booking(21, when=now + timedelta(days=3), changed=now - timedelta(hours=2)))  # same name
    assert contact_patches(base_url) == before  # nothing about the contact changed: no PATCH

    walk_in = booking(22, when=now - timedelta(hours=3), changed=now - timedelta(hours=1), attendance=1)
    walk_in["data"]["client"]["name"] = walk_in["data"]["client"]["display_name"] = "Ольга Петренко"
    deliver(svc, walk_in)  # a visit entered afterwards, under a new name: one PATCH carries name and fields
    assert contact_patches(base_url) == before + 1
    [contact] = client_for(svc.tenants["salon"], svc).find_contacts("+380671234567")
    assert contact["name"] == "Ольга Петренко"
