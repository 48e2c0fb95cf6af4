"""The client card in amoCRM (the sandbox over real HTTP): a completed visit writes visits_count,
total_spend, next_due and source on the contact; a history import creates no task for a cycle long over."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from jobs.crm_sync import drain
from jobs.worker import run_worker
from salonbridge.history_import import run_import
from tests.e2e.conftest import connected_salon
from tests.e2e.test_playbook_sandbox import booking, deliver

KYIV = ZoneInfo("Europe/Kyiv")


@pytest.fixture
def amo(settings, tmp_path, monkeypatch):
    with connected_salon(settings, tmp_path, monkeypatch) as connected:
        yield connected


def contact_fields(svc) -> dict[str, dict]:
    account = load_account_map(svc.store, "salon")
    names = {ids.id: key for (entity, key), ids in account.fields.items() if entity == "contacts"}
    out = {}
    for contact in client_for(svc.tenants["salon"], svc).iterate("/api/v4/contacts", "contacts"):
        out[contact["name"]] = {names.get(v["field_id"]): v["values"][0]["value"]
                                for v in contact.get("custom_fields_values") or [] if v["field_id"] in names}
    return out


def test_a_completed_visit_writes_the_card_fields_on_the_contact(amo):
    svc, _ = amo
    now = datetime.now(UTC)
    first, second = now - timedelta(days=30), now - timedelta(days=2)
    deliver(svc,
            booking(1, when=first, changed=first - timedelta(days=3)),
            booking(1, when=first, changed=first + timedelta(hours=2), status="update", attendance=1),
            booking(2, when=second, changed=second - timedelta(days=3)),
            booking(2, when=second, changed=second + timedelta(hours=2), status="update", attendance=1))
    fields = contact_fields(svc)["Ольга"]
    assert fields["visits_count"] == "2"
    assert float(fields["total_spend"]) == 1300
    due = second.astimezone(KYIV).date() + timedelta(days=21)  # manicure: 21 days (the tenant file)
    assert datetime.fromtimestamp(int(fields["next_due"]), KYIV).date() == due
    assert fields["source"] == "online booking"


def test_history_import_creates_no_amocrm_task_for_a_cycle_long_over(amo, tmp_path):
    svc, _ = amo
    path = tmp_path / "history.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "phone", "name", "service", "category", "price"])
        writer.writerow([(datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%d"), "0675550001", "Давня",
                         "Манікюр", "Манікюр", "400"])
        writer.writerow([(datetime.now(UTC) - timedelta(days=5)).strftime("%Y-%m-%d"), "0675550002", "Нинішня",
                         "Манікюр", "Манікюр", "400"])
    summary = run_import(svc, svc.tenants["salon"], path, since=None)
    assert (summary.actions["CreateTask"], summary.cycles_history) == (1, 1)
    run_worker(svc, burst=True)
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    tasks = list(client_for(svc.tenants["salon"], svc).iterate("/api/v4/tasks", "tasks"))
    assert len(tasks) == 1 and "Нинішня" in tasks[0]["text"]
    assert set(contact_fields(svc)) == {"Давня", "Нинішня"}  # both clients are contacts, with their history


def test_a_card_typed_in_by_hand_reaches_the_contact_with_its_source_and_tags(amo):
    from bridge.client_card import card_values, queue_contact_sync
    from bridge.store import clients as repo

    svc, _ = amo
    tenant, now = svc.tenants["salon"], datetime.now(UTC)
    with svc.store.session() as s:
        client = repo.add(s, "salon", card_values(tenant, {"name": "Ірина", "phone": "0675551234", "tags": ["vip"],
                                                          "acquisition": "flyer"}), now)
        queue_contact_sync(s, "salon", client, now)
    drain(svc, tenant, datetime.now(UTC))
    [contact] = list(client_for(tenant, svc).iterate("/api/v4/contacts", "contacts"))
    assert contact["name"] == "Ірина"
    assert [t["name"] for t in contact["_embedded"]["tags"]] == ["vip"]
    assert contact_fields(svc)["Ірина"]["source"] == "flyer"
