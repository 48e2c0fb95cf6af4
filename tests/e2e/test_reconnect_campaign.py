"""A Reconnect campaign end to end (seed 004), checked as an operator and a salon admin would see it:
booking webhooks build two regulars' history → the clock sends nothing by itself → `salonbridge reconnect
send` (CLI) → the first SMS through a fake gateway over HTTP, a note, a call task and a Lost clients lead in
the amoCRM sandbox → one client rebooks → the clock, days later, follows up only the other →
the rebooked visit takes place → `salonbridge report reconnect` counts the success with its revenue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bridge import intake
from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from jobs.crm_sync import drain
from jobs.due import run_due
from jobs.messages import send_due
from jobs.worker import run_worker
from pipelines.stages import Pipeline
from salonbridge.cli import main
from tests.e2e.conftest import connected_salon
from tests.e2e.test_playbook_sandbox import booking
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway

pytestmark = pytest.mark.slow
DAY = timedelta(days=1)
FIRST_TEXT, FOLLOW_UP_TEXT = "ми скучили", "час повторити"  # the default Ukrainian texts


@pytest.fixture
def salon(settings, tmp_path, monkeypatch):
    gateway = FakeSmsGateway()
    with serve(gateway.app()) as sms_url:
        monkeypatch.setenv("SALON_SMS_TOKEN", gateway.token)
        extra = (
            "rules:\n  quiet_hours: null\n  triggers: {repeat_reminder: false, lost_sequence: false}\n"
            "  channels:\n    sms:\n"
            f"      url: {sms_url}/api/send\n      token_env: SALON_SMS_TOKEN\n"
            "      body: {to: phone, text: message}\n      id_path: data.message_id\n"
            "reconnect:\n  follow_up_after_days: 5\n  channel: sms\n  create_call_task: true\n"
            "  create_lost_lead: true\n"
        )
        with connected_salon(settings, tmp_path, monkeypatch, tenant_extra=extra) as (svc, _):
            yield svc, gateway


def deliver(svc, *bodies: dict, at: datetime | None = None) -> None:
    for body in bodies:
        intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients", body, at or datetime.now(UTC))
    run_worker(svc, burst=True)
    drain(svc, svc.tenants["salon"], datetime.now(UTC))


def regular(n: int, now: datetime) -> list[dict]:
    """Three manicures 20 days apart, the last 60 days ago: 40 days past the expected date, at risk."""
    return [booking(n * 100 + i, when=now - days * DAY, changed=now - days * DAY + timedelta(hours=2),
                    client_id=990000 + n, phone=f"+3806755{n:05d}", status="update", attendance=1)
            for i, days in enumerate((100, 80, 60))]


def texts_to(gateway: FakeSmsGateway, n: int, marker: str) -> list[str]:
    return [m["message"] for m in gateway.messages if m["phone"].endswith(f"{n:05d}") and marker in m["message"]]


def lost_leads(svc) -> list[str]:
    """The stages of the leads in the Lost clients pipeline, as an amoCRM user sees them."""
    account = load_account_map(svc.store, "salon")
    stages = [account.stage_of(lead["pipeline_id"], lead["status_id"])
              for lead in client_for(svc.tenants["salon"], svc).iterate("/api/v4/leads", "leads")]
    return [found[1] for found in stages if found and found[0] is Pipeline.LOST]


def cli(svc, *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), env=svc.settings.to_env(), input=input, catch_exceptions=False)


def test_a_campaign_first_on_command_follow_up_unless_rebooked_and_the_success_in_the_report(salon, tmp_path):
    svc, gateway = salon
    start = datetime.now(UTC)
    deliver(svc, *regular(1, start), *regular(2, start))

    # the clock alone never sends the first message, however late the clients are
    run_due(svc, start)
    send_due(svc, start)
    assert not [m for m in gateway.messages if FIRST_TEXT in m["message"]]

    # an unknown category fails with the known ones
    wrong = CliRunner().invoke(main, ["reconnect", "send", "salon", "--category", "Масаж", "--yes"],
                               env=svc.settings.to_env())
    assert wrong.exit_code == 2 and "Манікюр" in wrong.output

    # the dry run shows how many and to whom, phones masked, and records nothing
    dry = cli(svc, "reconnect", "send", "salon", "--category", "Манікюр", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Reconnect campaign for Test Salon: Манікюр, channel sms" in dry.output
    assert "to contact: 2 client(s)" in dry.output and "+38067***0001" in dry.output
    assert "+380675500001" not in dry.output and "dry run: nothing sent" in dry.output
    declined = cli(svc, "reconnect", "send", "salon", "--category", "Манікюр", input="n\n")
    assert declined.exit_code == 1 and "Send to 2 client(s)?" in declined.output

    sent = cli(svc, "reconnect", "send", "salon", "--category", "Манікюр", "--yes")
    assert sent.exit_code == 0, sent.output
    assert "2 client(s) contacted, 2 message(s) scheduled" in sent.output
    again = cli(svc, "reconnect", "send", "salon", "--category", "Манікюр", "--yes")
    assert "to contact: 0 client(s); already contacted for this lateness: 2" in again.output

    contacted_at = datetime.now(UTC)
    send_due(svc, contacted_at)
    assert len(texts_to(gateway, 1, FIRST_TEXT)) == len(texts_to(gateway, 2, FIRST_TEXT)) == 1
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    api = client_for(svc.tenants["salon"], svc)
    notes = [n["params"]["text"] for n in api.iterate("/api/v4/contacts/notes", "notes")]
    assert sum("Reconnect (Манікюр)" in t and "запізнення 40 дн." in t for t in notes) == 2
    tasks = [t["text"] for t in api.iterate("/api/v4/tasks", "tasks")]
    assert sum("зателефонувати" in t and "Reconnect" in t for t in tasks) == 2
    assert sorted(lost_leads(svc)) == ["reminder", "reminder"]  # a Lost clients lead each

    # client 2 rebooks a manicure two days ahead
    rebooking = booking(290, when=contacted_at + 2 * DAY, changed=contacted_at + timedelta(minutes=1),
                        client_id=990002, phone="+380675500002")
    deliver(svc, rebooking)
    assert sorted(lost_leads(svc)) == ["reminder", "won"]  # client 2's lead is won by the booking

    # nothing before N days; after them, the follow-up to client 1 only
    run_due(svc, contacted_at + 4 * DAY)
    send_due(svc, contacted_at + 4 * DAY)
    assert not [m for m in gateway.messages if FOLLOW_UP_TEXT in m["message"]]
    run_due(svc, contacted_at + 6 * DAY)
    send_due(svc, contacted_at + 6 * DAY)
    assert len(texts_to(gateway, 1, FOLLOW_UP_TEXT)) == 1
    assert texts_to(gateway, 2, FOLLOW_UP_TEXT) == []
    run_due(svc, contacted_at + 9 * DAY)  # and never twice
    send_due(svc, contacted_at + 9 * DAY)
    assert len(texts_to(gateway, 1, FOLLOW_UP_TEXT)) == 1

    # the rebooked visit takes place: 650 UAH
    done = booking(290, when=contacted_at + 2 * DAY, changed=contacted_at + timedelta(minutes=2), client_id=990002,
                   phone="+380675500002", status="update", attendance=1)
    deliver(svc, done)

    report = cli(svc, "report", "reconnect", "salon", "--format", "json")
    assert report.exit_code == 0, report.output
    body = json.loads(report.output)
    assert (body["total"]["contacted"], body["total"]["rebooked"], body["total"]["rate"]) == (2, 1, 0.5)
    assert Decimal(body["total"]["revenue"]) == Decimal("650")
    [category] = body["categories"]
    assert (category["label"], category["rebooked"], Decimal(category["revenue"])) == ("Манікюр", 1, Decimal(650))
    assert [(c["channel"], c["contacted"]) for c in body["channels"]] == [("sms", 2)]
    assert [(b["name"], b["rebooked"]) for b in body["branches"]] == [("Центр", 1)]
    table = cli(svc, "report", "reconnect", "salon")
    assert "50.0 %" in table.output and "650" in table.output
    workbook = tmp_path / "reconnect.xlsx"
    assert cli(svc, "report", "reconnect", "salon", "--format", "xlsx", "--output", str(workbook)).exit_code == 0
    sheet = load_workbook(workbook).active
    header, total = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert header == ["group", "key", "name", "contacted", "rebooked", "rate", "revenue", "still to come"]
    assert (total[0], total[3], total[4], total[5], total[6]) == ("total", 2, 1, 0.5, 650)
    assert sheet["G2"].number_format.endswith('"₴"') and sheet.freeze_panes == "A2"
