"""SalesbotChannel with the real AmoCrmClient against the small amoCRM fake over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bridge.amocrm import AmoCrmClient, StaticTokenProvider
from bridge.messaging.base import ChannelError, OutgoingMessage, Recipient
from bridge.messaging.salesbot import SalesbotChannel
from bridge.messaging.settings import SalesbotSettings
from tests.fakes.amocrm_min import FakeAmo
from tests.fakes.http import serve

PHONE = "+380671234567"


@pytest.fixture
def amo() -> Iterator[tuple[FakeAmo, AmoCrmClient]]:
    fake = FakeAmo(rate_per_s=1000)
    with serve(fake.app) as url:
        fake.url = url
        client = AmoCrmClient(url, StaticTokenProvider("good-token"), backoff_base_s=0.01, timeout=(1.0, 2.0))
        yield fake, client


def outgoing(template: str = "review_request") -> OutgoingMessage:
    to = Recipient(phone=PHONE, amo_contact_id=4242)
    return OutgoingMessage("msg:review_request:c1:b1", "salon", "c1", template, to, "Дякуємо за візит!")


def test_the_template_bot_runs_on_the_contact(amo, caplog):
    fake, client = amo
    caplog.set_level(logging.DEBUG, logger="bridge.messaging")
    channel = SalesbotChannel(SalesbotSettings(bot_id=565, bots={"review_request": 777}), client)
    assert channel.send(outgoing()).provider_id == "777:4242"
    channel.send(outgoing("promo"))
    assert fake.bot_runs == [
        {"bot_id": 777, "entity_id": 4242, "entity_type": 1},
        {"bot_id": 565, "entity_id": 4242, "entity_type": 1},
    ]
    assert PHONE not in caplog.text and "+38067***4567" in caplog.text


def test_a_5xx_on_the_run_is_not_retried_because_the_bot_may_have_started(amo):
    fake, client = amo
    fake.add_fault("POST", "/api/v2/salesbot/run", status=502)
    with pytest.raises(ChannelError) as caught:
        SalesbotChannel(SalesbotSettings(bot_id=565), client).send(outgoing())
    assert not caught.value.retryable and caught.value.ambiguous
    assert len(fake.calls("POST", "/api/v2/salesbot/run")) == 1
