"""Salesbot messages falling due at the same moment start in one amoCRM request, each still sent once and
logged once; a request amoCRM refuses before starting any is sent message by message instead, and one that
may have started some is sent again for none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bridge.services import Services
from bridge.store import actions, links
from bridge.store.models import AppliedAction, Client, MessageRow
from jobs.messages import send_due
from pipelines.actions import SendMessage
from tests.conftest import TENANT_YAML
from tests.integration.conftest import Amo

NOW = datetime.now(UTC)
RUN = "/api/v2/salesbot/run"


@pytest.fixture
def svc(settings, monkeypatch, amo: Amo):
    monkeypatch.setenv("SALON_AMO_TOKEN", amo.token)
    text = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n",
                               f"  base_url: {amo.url}\n  long_lived_token_env: SALON_AMO_TOKEN\n")
    (settings.tenants_dir / "salon.yaml").write_text(text + "rules:\n  channels:\n    salesbot: {bot_id: 5}\n",
                                                     encoding="utf-8")
    services = Services.build(settings, migrate=True)
    yield services
    services.close()


def schedule(svc: Services, amo: Amo, n: int) -> list[int]:
    """``n`` clients with an amoCRM contact, each with a confirmation due a minute ago; their contact ids."""
    contacts = []
    with svc.store.session() as s:
        for i in range(n):
            client = Client(tenant="salon", name=f"Ольга {i}", phone=f"+38067123456{i}", created_at=NOW,
                            updated_at=NOW, tags=[])
            s.add(client)
            s.flush()
            contact = amo.api("POST", "/api/v4/contacts", [{"name": client.name}])["_embedded"]["contacts"][0]["id"]
            links.put(s, "salon", "contact", str(client.id), contact, NOW)
            contacts.append(contact)
            actions.record(s, "salon", None, client.id, [SendMessage(
                key=f"msg:{i}", client_id=str(client.id), template="confirmation", language="uk", occasion=f"b{i}",
                channels=("salesbot",), send_at=NOW - timedelta(minutes=1),
                context={"name": client.name, "service": "Манікюр", "master": "Анна", "branch": "Центр",
                         "date": "2026-12-05T12:00:00+02:00", "time": "2026-12-05T12:00:00+02:00"})], NOW)
    return contacts


def states(svc: Services) -> list[str]:
    with svc.store.session() as s:
        return list(s.scalars(select(MessageRow.state).order_by(MessageRow.id)))


def notes(svc: Services) -> int:
    with svc.store.session() as s:
        return len(s.scalars(select(AppliedAction.id).where(AppliedAction.kind == "AddNote")).all())


def test_messages_due_together_start_in_one_request_and_each_is_logged(svc, amo):
    contacts = schedule(svc, amo, 3)
    assert send_due(svc, datetime.now(UTC)) == 3
    assert [h.body for h in amo.calls("POST", RUN)] == [
        [{"bot_id": 5, "entity_id": c, "entity_type": 1} for c in contacts]]
    assert states(svc) == ["sent"] * 3 and notes(svc) == 3
    assert send_due(svc, datetime.now(UTC)) == 0  # never twice


def test_a_request_refused_before_any_bot_started_is_sent_message_by_message(svc, amo):
    contacts = schedule(svc, amo, 2)
    amo.step(f"POST {RUN}", status=400, body={"title": "Bad Request", "status": 400})
    assert send_due(svc, datetime.now(UTC)) == 2
    assert [h.body for h in amo.calls("POST", RUN)][1:] == [
        [{"bot_id": 5, "entity_id": c, "entity_type": 1}] for c in contacts]
    assert states(svc) == ["sent", "sent"] and notes(svc) == 2


def test_a_request_that_may_have_started_some_is_sent_again_for_none(svc, amo):
    schedule(svc, amo, 2)
    amo.step(f"POST {RUN}", status=502)
    assert send_due(svc, datetime.now(UTC)) == 0
    assert len(amo.calls("POST", RUN)) == 1
    assert states(svc) == ["failed", "failed"] and notes(svc) == 0
    assert send_due(svc, datetime.now(UTC) + timedelta(hours=3)) == 0
    assert len(amo.calls("POST", RUN)) == 1
