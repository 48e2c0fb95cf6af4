"""EmailChannel against a real SMTP server on 127.0.0.1 (aiosmtpd): the message as received, login,
and which SMTP failures are retryable."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from bridge.messaging.base import ChannelError, OutgoingMessage, Recipient
from bridge.messaging.email import EmailChannel
from bridge.messaging.settings import EmailSettings
from tests.fakes.smtp import FakeSmtp, smtp_server

ADDRESS = "olena.petrenko@example.com"
TEXT = "Олена, ви записані: Манікюр, 14.03.2025 о 10:30.\n\nКерувати записом: https://salon.example/c/a.b?x=1&y=2"
PASSWORD_ENV = "SALON_TEST_SMTP_PASSWORD"


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with smtp_server() as fake:
        yield fake


def settings(fake: FakeSmtp, **overrides) -> EmailSettings:
    options = {"host": fake.host, "port": fake.port, "starttls": False, "from_address": "Studio <robot@salon.example>"}
    return EmailSettings(**{**options, **overrides})


def outgoing(subject: str | None = "Ви записані: 14.03.2025 о 10:30", email: str | None = ADDRESS) -> OutgoingMessage:
    return OutgoingMessage(
        "msg:confirmation:c1:b1", "salon", "c1", "confirmation", Recipient(email=email), TEXT, subject
    )


def test_the_server_receives_subject_text_and_html(smtp):
    result = EmailChannel(settings(smtp, reply_to="desk@salon.example")).send(outgoing())
    assert result.channel == "email" and result.provider_id and result.provider_id.endswith("@salon.example>")
    assert smtp.envelopes == [("robot@salon.example", [ADDRESS])]
    (received,) = smtp.messages
    assert received["Subject"] == "Ви записані: 14.03.2025 о 10:30"
    assert received["To"] == ADDRESS and received["From"] == "Studio <robot@salon.example>"
    assert received["Message-ID"] == result.provider_id and received["Reply-To"] == "desk@salon.example"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert text.replace("\r\n", "\n").strip() == TEXT  # SMTP carries CRLF line ends
    assert "<p>Олена, ви записані: Манікюр, 14.03.2025 о 10:30.</p>" in html
    assert '<a href="https://salon.example/c/a.b?x=1&amp;y=2">' in html


def test_without_a_subject_the_fallback_is_used(smtp):
    EmailChannel(settings(smtp), fallback_subject="Studio Example").send(outgoing(subject=None))
    assert smtp.messages[0]["Subject"] == "Studio Example"


def test_login_with_the_password_from_the_environment():
    with smtp_server(FakeSmtp(users={"robot": "s3cret"})) as fake:
        channel = EmailChannel(
            settings(fake, username="robot", password_env=PASSWORD_ENV), environ={PASSWORD_ENV: "s3cret"}
        )
        channel.send(outgoing())
        assert fake.logins == ["robot"] and len(fake.messages) == 1

        wrong = EmailChannel(settings(fake, username="robot", password_env=PASSWORD_ENV), environ={PASSWORD_ENV: "x"})
        with pytest.raises(ChannelError) as caught:
            wrong.send(outgoing())
        assert not caught.value.retryable and "535" in str(caught.value)

        unset = EmailChannel(settings(fake, username="robot", password_env=PASSWORD_ENV), environ={})
        with pytest.raises(ChannelError, match=PASSWORD_ENV):
            unset.send(outgoing())


def test_a_temporary_refusal_is_retryable():
    with smtp_server(FakeSmtp(refuse_rcpt="451 4.3.0 Try again later")) as fake:
        with pytest.raises(ChannelError) as caught:
            EmailChannel(settings(fake)).send(outgoing())
        assert caught.value.retryable and fake.messages == []


def test_a_permanent_refusal_is_final():
    with smtp_server(FakeSmtp(refuse_rcpt="550 5.1.1 No such user")) as fake:
        with pytest.raises(ChannelError) as caught:
            EmailChannel(settings(fake)).send(outgoing())
        assert not caught.value.retryable


def test_starttls_required_but_not_offered_is_final(smtp):
    with pytest.raises(ChannelError) as caught:
        EmailChannel(settings(smtp, starttls=True)).send(outgoing())
    assert not caught.value.retryable and smtp.messages == []


def test_an_unreachable_server_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = EmailChannel(
        EmailSettings(host="127.0.0.1", port=port, starttls=False, from_address="a@b.c", timeout_s=2)
    )
    with pytest.raises(ChannelError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable


def test_no_email_is_final(smtp):
    channel = EmailChannel(settings(smtp))
    assert not channel.can_reach(Recipient(phone="+380671234567"))
    with pytest.raises(ChannelError) as caught:
        channel.send(outgoing(email=None))
    assert not caught.value.retryable


def test_logs_hold_only_the_masked_address(smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="bridge.messaging")
    EmailChannel(settings(smtp)).send(outgoing())
    ours = our_log(caplog)
    assert "o***@example.com" in ours and ADDRESS not in ours


def test_a_refusal_quoting_the_address_is_logged_masked(caplog):
    caplog.set_level(logging.DEBUG, logger="bridge.messaging")
    refusing = FakeSmtp(refuse_rcpt=f"550 5.1.1 <{ADDRESS}>: Recipient address rejected")
    with smtp_server(refusing) as fake, pytest.raises(ChannelError) as caught:
        EmailChannel(settings(fake)).send(outgoing())
    assert ADDRESS not in our_log(caplog) + str(caught.value)


def our_log(caplog) -> str:
    """What salonbridge logged; the fake SMTP server's own log (aiosmtpd's ``mail.log``) is the peer's, not ours."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
