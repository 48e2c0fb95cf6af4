"""The client card in amoCRM (the sandbox over real HTTP): a completed visit writes visits_count,
total_spend, next_due and source on the contact; a history import creates no task for a cycle long over."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

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


def test_card_type_balance_blacklist_tags_and_source_reach_the_contacts_in_one_batch(amo):
    from click.testing import CliRunner

    from salonbridge.cli import main

    svc, base_url = amo
    tenant = svc.tenants["salon"]

    def cli(*args: str) -> None:
        result = CliRunner().invoke(main, ["clients", *args], env=svc.settings.to_env(), catch_exceptions=False)
        assert result.exit_code == 0, result.output

    for n in range(1, 4):
        cli("add", "salon", "--name", f"Клієнтка {n}", "--phone", f"067555000{n}", "--source", "instagram")
    drain(svc, tenant, datetime.now(UTC))
    before = len(contact_patches(base_url))
    cli("edit", "salon", "+380675550001", "--card-type", "gold", "--balance", "250,50", "--tag", "vip")
    cli("edit", "salon", "+380675550002", "--blacklisted", "--card-type", "silver")
    cli("edit", "salon", "+380675550003", "--balance", "0")
    drain(svc, tenant, datetime.now(UTC))

    fields = contact_fields(svc)
    assert fields["Клієнтка 1"] == {**fields["Клієнтка 1"], "card_type": "gold", "balance": "250.50",
                                    "blacklisted": "Ні", "source": "instagram"}
    assert (fields["Клієнтка 2"]["card_type"], fields["Клієнтка 2"]["blacklisted"]) == ("silver", "Так")
    assert fields["Клієнтка 3"]["balance"] == "0.00" and "card_type" not in fields["Клієнтка 3"]
    tags = {c["name"]: [t["name"] for t in c["_embedded"]["tags"]]
            for c in client_for(tenant, svc).iterate("/api/v4/contacts", "contacts")}
    assert tags["Клієнтка 1"] == ["vip"]
    assert [len(p["body"]) for p in contact_patches(base_url)[before:]] == [3]  # the three cards in one request


def contact_patches(base_url: str) -> list[dict]:
    """The contact updates amoCRM received (the sandbox's request journal)."""
    return requests.get(f"{base_url}/_sandbox/requests", params={"method": "PATCH", "path": "/api/v4/contacts"},
                        timeout=5).json()["requests"]


def test_a_completed_booking_carries_the_card_and_the_bookings_tags_to_the_contact(amo):
    svc, _ = amo
    tenant, now = svc.tenants["salon"], datetime.now(UTC)
    with svc.store.session() as s:
        from bridge.client_card import card_values
        from bridge.store import clients as repo

        repo.add(s, "salon", card_values(tenant, {"name": "Ольга", "phone": "+380671234567", "card_type": "gold",
                                                  "balance": "100", "tags": ["club"]}), now)
    visit = now - timedelta(days=1)
    deliver(svc, booking(1, when=visit, changed=visit - timedelta(days=3)),
            booking(1, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1))
    fields = contact_fields(svc)["Ольга"]
    assert (fields["card_type"], fields["balance"], fields["blacklisted"]) == ("gold", "100.00", "Ні")
    assert fields["visits_count"] == "1"
    [contact] = [c for c in client_for(tenant, svc).iterate("/api/v4/contacts", "contacts") if c["name"] == "Ольга"]
    assert [t["name"] for t in contact["_embedded"]["tags"]] == ["club"]


def test_a_segment_tagged_from_the_command_line_gets_the_tag_on_its_amocrm_contacts_in_a_batch(amo):
    from click.testing import CliRunner

    from salonbridge.cli import main

    svc, base_url = amo
    tenant = svc.tenants["salon"]

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, ["clients", *args], env=svc.settings.to_env(), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    for n, gender in enumerate(("female", "female", "male", "female"), start=1):
        cli("add", "salon", "--name", f"Клієнт {n}", "--phone", f"067555010{n}", "--gender", gender,
            *(("--tag", "club") if n == 1 else ()))
    drain(svc, tenant, datetime.now(UTC))
    before = len(contact_patches(base_url))

    out = cli("tag", "salon", "--gender", "female", "--add", "spring", "--add", "club")
    assert "3 client(s) tagged spring, club (3 newly)" in out
    drain(svc, tenant, datetime.now(UTC))
    tags = {c["name"]: sorted(t["name"] for t in c["_embedded"]["tags"])
            for c in client_for(tenant, svc).iterate("/api/v4/contacts", "contacts")}
    assert tags == {"Клієнт 1": ["club", "spring"], "Клієнт 2": ["club", "spring"], "Клієнт 3": [],
                    "Клієнт 4": ["club", "spring"]}
    assert [len(p["body"]) for p in contact_patches(base_url)[before:]] == [3]  # one request for the segment
    shown = CliRunner().invoke(main, ["clients", "segment", "salon", "--tag", "spring", "--format", "json"],
                               env=svc.settings.to_env())
    assert shown.output.count('"name": "Клієнт') == 3  # the cards here carry the tag too


def test_a_completed_visit_with_goods_ends_with_the_visit_history_in_amocrm_and_the_goods_in_the_client_api(
        settings, tmp_path, monkeypatch):
    from tests.fakes.http import serve
    from webhooks.app import create_app

    monkeypatch.setenv("SALON_TEST_API_TOKEN", "api-t0ken-for-goods-9876543210")
    with connected_salon(settings, tmp_path, monkeypatch,
                         tenant_extra="api_token_env: SALON_TEST_API_TOKEN\n") as (svc, base_url):
        now = datetime.now(UTC)
        visit = now - timedelta(days=1)
        done = booking(1, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1)
        done["data"]["goods_transactions"] = [
            {"id": 9001, "good_id": 55, "amount": -2, "cost_per_unit": 225, "cost": 450,
             "good": {"id": 55, "title": "Крем для рук"}, "unit": {"title": "шт"}}]
        done["data"]["consumables"] = [
            {"id": 9002, "good_id": 7, "amount": "-2.5", "cost": "37.5", "good": {"id": 7, "title": "Гель-лак"},
             "service_unit": {"title": "мл"}}]
        before = len(contact_patches(base_url))
        deliver(svc, booking(1, when=visit, changed=visit - timedelta(days=3)), done)

        fields = contact_fields(svc)["Ольга"]
        day = visit.astimezone(KYIV).strftime("%d.%m.%Y")
        assert fields["visit_history"].splitlines() == [
            f"{day} · Манікюр + гель-лак · Анна · {fields['branch']} · 650",
            "  товари: Крем для рук 2 шт — 450", "  матеріали: Гель-лак 2.5 мл"]
        assert fields["visits_count"] == "1"
        # one contact update carried the history with the card's other fields (no note per visit)
        sent = [entry for p in contact_patches(base_url)[before:] for entry in p["body"]
                if any(v.get("values", [{}])[0].get("value") == fields["visit_history"]
                       for v in entry.get("custom_fields_values") or [])]
        assert len(sent) == 1 and len(sent[0]["custom_fields_values"]) > 5

        later = dict(done, data={**done["data"], "last_change_date": (visit + timedelta(hours=5)).strftime(
            "%Y-%m-%dT%H:%M:%S+0000")})
        later["data"]["goods_transactions"] = [*done["data"]["goods_transactions"],
                                               {"id": 9003, "amount": -1, "cost": "199.90",
                                                "good": {"id": 56, "title": "Олія для кутикули"}}]
        del later["data"]["consumables"]  # a webhook without them: the materials stored stay
        deliver(svc, later)
        history = contact_fields(svc)["Ольга"]["visit_history"]
        assert "Олія для кутикули — 199.90" in history and "Гель-лак 2.5 мл" in history

        with serve(create_app(services=svc)) as url:
            headers = {"Authorization": "Bearer api-t0ken-for-goods-9876543210"}
            listed = requests.get(f"{url}/api/tenants/salon/clients", headers=headers, timeout=10).json()
            [client_id] = [c["client_id"] for c in listed["clients"] if c["name"] == "Ольга"]
            card = requests.get(f"{url}/api/tenants/salon/clients/{client_id}", headers=headers, timeout=10).json()
        [shown] = card["history"]
        assert shown["services"] == ["Манікюр + гель-лак"]
        assert shown["products"] == [
            {"title": "Крем для рук", "quantity": "2", "unit": "шт", "amount": "450.00", "id": "55"},
            {"title": "Олія для кутикули", "quantity": "1", "unit": None, "amount": "199.90", "id": "56"}]
        assert shown["materials"] == [{"title": "Гель-лак", "quantity": "2.5", "unit": "мл", "amount": "37.50",
                                       "id": "7"}]
