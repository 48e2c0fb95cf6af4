"""A Salesbot message runs on the client's amoCRM contact. Under a backlog the CRM sync reaches that contact
after the message is due (amoCRM takes 7 requests a second): the message waits for it instead of being
skipped; a client with no contact coming is still skipped at once, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bridge.services import Services
from bridge.store import actions
from bridge.store.models import Client, MessageRow
from jobs.messages import send_due
from pipelines.actions import SendMessage, UpsertContact
from tests.conftest import TENANT_YAML

NOW = datetime.now(UTC)


@pytest.fixture
def svc(settings, monkeypatch):
    monkeypatch.setenv("SALON_AMO_TOKEN", "long-lived-token-for-tests-0123456789")
    text = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n",
                               "  base_url: http://127.0.0.1:9\n  long_lived_token_env: SALON_AMO_TOKEN\n")
    (settings.tenants_dir / "salon.yaml").write_text(text + "rules:\n  channels:\n    salesbot: {bot_id: 1}\n",
                                                     encoding="utf-8")
    services = Services.build(settings, migrate=True)
    yield services
    services.close()


def schedule(svc: Services, key: str, *, contact_owed: bool) -> int:
    with svc.store.session() as s:
        client = Client(tenant="salon", name="Ольга", phone="+380671234567", created_at=NOW, updated_at=NOW, tags=[])
        s.add(client)
        s.flush()
        planned: list = [SendMessage(key=key, client_id=str(client.id), template="confirmation", language="uk",
                                     occasion=key, channels=("salesbot",), send_at=NOW - timedelta(minutes=1),
                                     context={"name": "Ольга", "service": "Манікюр", "master": "Анна",
                                              "branch": "Центр", "date": "2026-12-05T12:00:00+02:00",
                                              "time": "2026-12-05T12:00:00+02:00"})]
        if contact_owed:
            planned.append(UpsertContact(key=f"contact:{key}", client_id=str(client.id), name="Ольга",
                                         phone="+380671234567"))
        actions.record(s, "salon", None, client.id, planned, NOW)
        return client.id


def state(svc: Services, key: str) -> tuple[str, datetime, str | None]:
    with svc.store.session() as s:
        row = s.scalar(select(MessageRow).where(MessageRow.key == key))
        return row.state, row.send_at, row.error


def test_a_message_waits_for_the_contact_the_sync_still_owes(svc):
    schedule(svc, "msg:owed", contact_owed=True)
    now = datetime.now(UTC)
    assert send_due(svc, now) == 0
    status, send_at, error = state(svc, "msg:owed")
    assert (status, error) == ("scheduled", "waiting for the client's amoCRM contact")
    assert now < send_at <= now + timedelta(minutes=1)
    assert send_due(svc, now) == 0  # not due again until then


def test_a_message_for_a_client_with_no_contact_coming_is_skipped_with_the_reason(svc):
    schedule(svc, "msg:none", contact_owed=False)
    send_due(svc, datetime.now(UTC))
    assert state(svc, "msg:none")[0::2] == ("skipped", "salesbot: the client has no phone number or no amoCRM contact")

