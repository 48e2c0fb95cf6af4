"""SalesbotChannel with the real AmoCrmClient against a sandbox account over HTTP."""

from __future__ import annotations

import logging

import pytest

from bridge.amocrm import AmoCrmClient, StaticTokenProvider
from bridge.messaging.base import ChannelError, OutgoingMessage, Recipient
from bridge.messaging.salesbot import SalesbotChannel
from bridge.messaging.settings import SalesbotSettings
from tests.integration.conftest import Amo

PHONE = "+380671234567"


@pytest.fixture
def channel_amo(amo: Amo) -> tuple[Amo, AmoCrmClient, int]:
    """The account, a client for it, and a contact there to message."""
    client = AmoCrmClient(amo.url, StaticTokenProvider(amo.token), backoff_base_s=0.01, timeout=(1.0, 2.0))
    contact = amo.api("POST", "/api/v4/contacts", [{"name": "Оксана"}])["_embedded"]["contacts"][0]["id"]
    return amo, client, contact


def outgoing(contact: int, template: str = "review_request") -> OutgoingMessage:
    to = Recipient(phone=PHONE, amo_contact_id=contact)
    return OutgoingMessage("msg:review_request:c1:b1", "salon", "c1", template, to, "Дякуємо за візит!")


def test_the_template_bot_runs_on_the_contact(channel_amo, caplog):
    fake, client, contact = channel_amo
    caplog.set_level(logging.DEBUG, logger="bridge.messaging")
    channel = SalesbotChannel(SalesbotSettings(bot_id=565, bots={"review_request": 777}), client)
    assert channel.send(outgoing(contact)).provider_id == f"777:{contact}"
    channel.send(outgoing(contact, "promo"))
    assert [h.body for h in fake.calls("POST", "/api/v2/salesbot/run")] == [
        [{"bot_id": 777, "entity_id": contact, "entity_type": 1}],
        [{"bot_id": 565, "entity_id": contact, "entity_type": 1}],
    ]
    assert [(r["bot_id"], r["started"]) for r in fake.stored("salesbot_runs")] == [(777, True), (565, True)]
    assert PHONE not in caplog.text and "+38067***4567" in caplog.text


def test_a_5xx_on_the_run_is_not_retried_because_the_bot_may_have_started(channel_amo):
    fake, client, contact = channel_amo
    fake.step("POST /api/v2/salesbot/run", status=502)
    with pytest.raises(ChannelError) as caught:
        SalesbotChannel(SalesbotSettings(bot_id=565), client).send(outgoing(contact))
    assert not caught.value.retryable and caught.value.ambiguous
    assert len(fake.calls("POST", "/api/v2/salesbot/run")) == 1
