"""SmsChannel over real HTTP against the fake gateway: fields as configured, retry classes, masking."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from bridge.messaging.base import ChannelError, OutgoingMessage, Recipient
from bridge.messaging.settings import SmsSettings, parse_channels
from bridge.messaging.sms import SmsChannel
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway

PHONE = "+380671234567"
TOKEN_ENV = "SALON_TEST_SMS_TOKEN"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeSmsGateway, str]]:
    fake = FakeSmsGateway()
    with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
def gateway(served: tuple[FakeSmsGateway, str]) -> tuple[FakeSmsGateway, str]:
    served[0].reset()
    return served


def settings_for(url: str, **overrides) -> SmsSettings:
    raw = {
        "url": f"{url}/api/send",
        "token_env": TOKEN_ENV,
        "sender": "SALON",
        "body": {"to": "phone", "text": "message", "sender": "from"},
        "extra": {"channel": "sms"},
        "id_path": "data.message_id",
        "idempotency_header": "Idempotency-Key",
        **overrides,
    }
    settings, problems = parse_channels({"sms": raw})
    assert problems == [] and settings.sms is not None
    return settings.sms


def channel(gw: FakeSmsGateway, url: str, **overrides) -> SmsChannel:
    return SmsChannel(settings_for(url, **overrides), environ={TOKEN_ENV: gw.token})


def outgoing(phone: str | None = PHONE, text: str = "Олена, ви записані на 14.03 о 10:30") -> OutgoingMessage:
    return OutgoingMessage("msg:confirmation:c1:b1", "salon", "c1", "confirmation", Recipient(phone=phone), text)


def test_the_gateway_receives_the_configured_fields_and_we_get_its_id(gateway):
    gw, url = gateway
    result = channel(gw, url).send(outgoing())
    assert (result.channel, result.provider_id) == ("sms", "sms-1")
    assert gw.messages == [
        {"phone": PHONE, "message": "Олена, ви записані на 14.03 о 10:30", "from": "SALON", "channel": "sms"}
    ]
    assert gw.headers[0]["Authorization"] == f"Bearer {gw.token}"
    assert gw.headers[0]["Idempotency-Key"] == "msg:confirmation:c1:b1"


def test_digits_format_and_no_id_path(gateway):
    gw, url = gateway
    result = channel(gw, url, phone_format="digits", id_path=None, sender=None).send(outgoing())
    assert result.provider_id is None
    assert gw.messages == [{"phone": "380671234567", "message": outgoing().text, "channel": "sms"}]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_429_are_retryable(gateway, status):
    gw, url = gateway
    gw.fail(status)
    with pytest.raises(ChannelError) as caught:
        channel(gw, url).send(outgoing())
    assert caught.value.retryable and caught.value.channel == "sms"
    assert f"HTTP {status}" in str(caught.value)
    assert channel(gw, url).send(outgoing()).provider_id == "sms-1"  # the retry goes through


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_client_errors_are_final(gateway, status):
    gw, url = gateway
    gw.fail(status)
    with pytest.raises(ChannelError) as caught:
        channel(gw, url).send(outgoing())
    assert not caught.value.retryable and gw.messages == []


def test_a_wrong_token_is_final(gateway):
    gw, url = gateway
    with pytest.raises(ChannelError) as caught:
        SmsChannel(settings_for(url), environ={TOKEN_ENV: "wrong"}).send(outgoing())
    assert not caught.value.retryable and "401" in str(caught.value) and "wrong" not in str(caught.value)


def test_an_unset_token_env_is_final_and_nothing_is_sent(gateway):
    gw, url = gateway
    with pytest.raises(ChannelError, match=TOKEN_ENV) as caught:
        SmsChannel(settings_for(url), environ={}).send(outgoing())
    assert not caught.value.retryable and gw.attempts == 0


def test_a_read_timeout_is_retryable_but_ambiguous(gateway):
    gw, url = gateway
    gw.delay_s = 1.0
    slow = SmsChannel(SmsSettings(**{**settings_for(url).__dict__, "timeout_s": 0.2}), environ={TOKEN_ENV: gw.token})
    with pytest.raises(ChannelError) as caught:
        slow.send(outgoing())
    assert caught.value.retryable and caught.value.ambiguous and "timed out" in str(caught.value)


def test_a_refused_connection_is_retryable_and_not_ambiguous():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sms = SmsChannel(settings_for(f"http://127.0.0.1:{port}"), environ={TOKEN_ENV: "t"})
    with pytest.raises(ChannelError) as caught:
        sms.send(outgoing())
    assert caught.value.retryable and not caught.value.ambiguous


def test_a_2xx_without_the_id_is_final_and_ambiguous(gateway):
    gw, url = gateway
    with pytest.raises(ChannelError) as caught:
        channel(gw, url, id_path="data.id").send(outgoing())
    assert not caught.value.retryable and caught.value.ambiguous and "'data.id'" in str(caught.value)


def test_no_phone_is_final(gateway):
    gw, url = gateway
    sms = channel(gw, url)
    assert not sms.can_reach(Recipient(email="a@b.c"))
    with pytest.raises(ChannelError) as caught:
        sms.send(outgoing(phone=None))
    assert not caught.value.retryable and gw.attempts == 0


def test_logs_and_errors_never_hold_the_full_phone_or_the_token(gateway, caplog):
    gw, url = gateway
    caplog.set_level(logging.DEBUG)
    sms = channel(gw, url)
    sms.send(outgoing())
    gw.fail(400, 500)  # the fake's error body echoes the phone number, as real gateways do
    errors = []
    for _ in range(2):
        with pytest.raises(ChannelError) as caught:
            sms.send(outgoing())
        errors.append(str(caught.value))
    logged = caplog.text + "\n".join(errors)
    assert "+38067***4567" in logged
    for secret in (PHONE, PHONE.lstrip("+"), "671234567", gw.token):
        assert secret not in logged
