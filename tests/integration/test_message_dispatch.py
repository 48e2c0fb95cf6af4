"""Due messages go out once each through a real (fake) SMS gateway, and each is logged for amoCRM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bridge.services import Services
from bridge.store import actions
from bridge.store.models import AppliedAction, Client, MessageRow
from jobs.messages import send_due
from pipelines.actions import SendMessage
from tests.conftest import TENANT_YAML
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway

NOW = datetime.now(UTC)


@pytest.fixture
def gateway(settings, monkeypatch):
    fake = FakeSmsGateway()
    with serve(fake.app()) as base_url:
        monkeypatch.setenv("SALON_SMS_TOKEN", fake.token)
        rules = (
            "rules:\n  channels:\n    sms:\n"
            f"      url: {base_url}/api/send\n      token_env: SALON_SMS_TOKEN\n"
            "      body: {to: phone, text: message}\n      id_path: data.message_id\n"
        )
        (settings.tenants_dir / "salon.yaml").write_text(TENANT_YAML + rules, encoding="utf-8")
        yield fake


@pytest.fixture
def svc(gateway, settings):
    services = Services.build(settings, migrate=True)
    yield services
    services.close()


def schedule(svc: Services, key: str, template: str = "confirmation", context: dict | None = None,
             opted_out: bool = False, marketing: bool = False) -> int:
    with svc.store.session() as s:
        client = Client(tenant="salon", name="Ольга", phone="+380671234567", created_at=NOW, updated_at=NOW,
                        tags=[], opted_out=opted_out)
        s.add(client)
        s.flush()
        context = context if context is not None else {
            "name": "Ольга", "service": "Манікюр", "master": "Анна", "branch": "Центр",
            "date": "2026-12-05T12:00:00+02:00", "time": "2026-12-05T12:00:00+02:00"}
        action = SendMessage(key=key, client_id=str(client.id), template=template, language="uk",
                             occasion=key, channels=("sms",), context=context, send_at=NOW - timedelta(minutes=1),
                             marketing=marketing)
        actions.record(s, "salon", None, client.id, [action], NOW)
        return client.id


def message(svc: Services, key: str) -> MessageRow:
    with svc.store.session() as s:
        return s.scalar(select(MessageRow).where(MessageRow.key == key))


def test_a_due_message_is_sent_once_with_a_signed_link_and_logged_as_an_amocrm_note(svc, gateway):
    schedule(svc, "msg:1")
    assert send_due(svc, datetime.now(UTC)) == 1
    assert send_due(svc, datetime.now(UTC)) == 0  # never the same message twice
    [sent] = gateway.messages
    assert sent["phone"] == "+380671234567" and "Ольга" in sent["message"]
    assert f"{svc.settings.public_url}/c/" in sent["message"]
    row = message(svc, "msg:1")
    assert (row.state, row.channel, row.provider_id) == ("sent", "sms", "sms-1")
    with svc.store.session() as s:
        note = s.scalar(select(AppliedAction).where(AppliedAction.key == "note:msg:1"))
        assert note.kind == "AddNote" and note.state == "pending" and "Ольга" in note.payload["text"]


def test_a_template_missing_a_placeholder_is_skipped_with_the_reason(svc, gateway):
    schedule(svc, "msg:2", context={"name": "Ольга"})
    assert send_due(svc, datetime.now(UTC)) == 0
    row = message(svc, "msg:2")
    assert row.state == "skipped" and "master" in row.error
    assert gateway.messages == []


def test_a_gateway_error_is_retried_later_and_an_interrupted_send_is_never_repeated(svc, gateway):
    schedule(svc, "msg:3")
    gateway.fail(500)
    assert send_due(svc, datetime.now(UTC)) == 0
    row = message(svc, "msg:3")
    assert row.state == "scheduled" and row.send_at > datetime.now(UTC)
    schedule(svc, "msg:4")
    with svc.store.session() as s:  # a worker died between "sending" and "sent"
        s.execute(update(MessageRow).where(MessageRow.key == "msg:4").values(
            state="sending", sent_at=datetime.now(UTC) - timedelta(minutes=30)))
    send_due(svc, datetime.now(UTC))
    assert message(svc, "msg:4").state == "failed"
    assert gateway.messages == []


def test_an_opted_out_client_gets_no_marketing(svc, gateway):
    schedule(svc, "msg:5", template="promo", context={"name": "Ольга", "offer": "-10%"}, opted_out=True,
             marketing=True)
    send_due(svc, datetime.now(UTC))
    assert message(svc, "msg:5").state == "skipped"
    assert gateway.messages == []
