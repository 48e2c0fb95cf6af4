"""Channel settings from the tenant YAML, building a tenant's channels and choosing one per message."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bridge.amocrm.errors import AmbiguousWrite, AmoHttpError, RateLimited, ReauthRequired
from bridge.messaging.base import ChannelError, OutgoingMessage, Recipient
from bridge.messaging.email import EmailChannel, build_email, html_body
from bridge.messaging.registry import NoChannel, build_channels, pick_channel
from bridge.messaging.salesbot import SalesbotChannel
from bridge.messaging.settings import (
    ChannelConfigError,
    ChannelSettings,
    SalesbotSettings,
    channel_settings,
    parse_channels,
)
from bridge.messaging.sms import SmsChannel, json_path
from bridge.tenancy import examine_document
from config.rules import Rules
from config.tenants import AmoCrmAccount, BookingSource, Branch, Catalog, Tenant

CHANNELS_YAML = """
sms:
  url: https://sms.example/api/send
  token_env: SALON_SMS_TOKEN
  sender: SALON
  body: {to: phone, text: message, sender: from}
  id_path: data.message_id
email:
  host: smtp.example.com
  port: 587
  username: robot@example.com
  password_env: SALON_SMTP_PASSWORD
  from: "Test Salon <robot@example.com>"
salesbot:
  bot_id: 565
  bots: {review_request: 777}
"""
PHONE = "+380671234567"


def tenant(rules: dict) -> Tenant:
    return Tenant(
        slug="salon",
        name="Test Salon",
        timezone=ZoneInfo("Europe/Kyiv"),
        language="uk",
        currency="UAH",
        country="UA",
        working_hour=10,
        branches=(Branch("1", "Центр"),),
        booking=BookingSource("yclients", "X"),
        amocrm=AmoCrmAccount("http://127.0.0.1:9"),
        catalog=Catalog(),
        rules=Rules(channels=channel_settings(rules.get("channels")), templates=rules.get("templates") or {}),
    )


def validate_channels(value) -> list[tuple[str, str]]:
    return parse_channels(value)[1]


def check_messaging(rules: dict, environ: dict) -> list[tuple[str, str]]:
    """The problems a tenant file with these rules has under ``rules.`` (channels, templates, secrets)."""
    document = {"slug": "salon", "name": "Test Salon", "timezone": "Europe/Kyiv",
                "branches": [{"id": "1", "name": "A"}], "booking": {"source": "yclients", "webhook_token_env": "X"},
                "amocrm": {"base_url": "http://x"}, "rules": rules}
    found = examine_document(document, Path("salon.yaml"), environ, operational=True)
    return [(p.field, p.message) for p in found.problems if p.field.startswith("rules.")]


def message(to: Recipient, template: str = "confirmation") -> OutgoingMessage:
    return OutgoingMessage("msg:k", "salon", "c1", template, to, "Hello", "Subject")


# --- settings --------------------------------------------------------------------------------------


def test_the_documented_block_parses_and_key_order_is_the_preference():
    settings, problems = parse_channels(yaml.safe_load(CHANNELS_YAML))
    assert problems == []
    assert settings.preference == ("sms", "email", "salesbot")
    assert settings.sms and settings.sms.body == {"to": "phone", "text": "message", "sender": "from"}
    assert settings.sms.method == "POST" and settings.sms.auth_scheme == "Bearer"
    assert settings.email and settings.email.port == 587 and settings.email.starttls and not settings.email.ssl
    assert settings.email.from_address == "Test Salon <robot@example.com>"
    assert settings.salesbot == SalesbotSettings(bot_id=565, bots={"review_request": 777})
    assert settings.secret_envs() == {
        "rules.channels.sms.token_env": "SALON_SMS_TOKEN",
        "rules.channels.email.password_env": "SALON_SMTP_PASSWORD",
    }


def test_the_plain_preference_list_still_works():
    assert parse_channels(["salesbot", "sms", "sms"]) == (ChannelSettings(preference=("salesbot", "sms")), [])
    assert parse_channels(None) == (ChannelSettings(), [])


def test_ssl_defaults_to_port_465_without_starttls():
    settings, problems = parse_channels({"email": {"host": "h", "from": "a@b.c", "ssl": True}})
    assert problems == [] and settings.email and settings.email.port == 465 and not settings.email.starttls


@pytest.mark.parametrize(
    ("value", "path", "fragment"),
    [
        (["pigeon"], "rules.channels", "non-empty list of sms, email, salesbot"),
        ({"pigeon": {}}, "rules.channels.pigeon", "unknown channel"),
        ({"sms": "https://x"}, "rules.channels.sms", "must be a mapping"),
        ({"sms": {}}, "rules.channels.sms.url", "is required"),
        ({"sms": {"url": "ftp://x"}}, "rules.channels.sms.url", "http(s) URL"),
        ({"sms": {"url": "https://x", "method": "GET"}}, "rules.channels.sms.method", "POST or PUT"),
        ({"sms": {"url": "https://x", "token_env": "abc123-secret"}}, "rules.channels.sms.token_env", "not hold"),
        ({"sms": {"url": "https://x", "body": {"to": "p"}}}, "rules.channels.sms.body.text", "is required"),
        ({"sms": {"url": "https://x", "body": {"to": "p", "text": "t", "cc": "x"}}}, "rules.channels.sms.body.cc", ""),
        ({"sms": {"url": "https://x", "timeout_s": 0}}, "rules.channels.sms.timeout_s", "from 1 to 60"),
        ({"sms": {"url": "https://x", "auth_header": "X Token"}}, "rules.channels.sms.auth_header", "header"),
        ({"sms": {"url": "https://x", "passwd": 1}}, "rules.channels.sms.passwd", "unknown setting"),
        ({"email": {"host": "h"}}, "rules.channels.email.from", "is required"),
        ({"email": {"host": "h", "from": "robot"}}, "rules.channels.email.from", "must be an address"),
        ({"email": {"host": "h", "from": "a@b.c", "ssl": True, "starttls": True}}, "rules.channels.email", "exclude"),
        ({"email": {"host": "h", "from": "a@b.c", "username": "u"}}, "rules.channels.email.password_env", "username"),
        ({"email": {"host": "h", "from": "a@b.c", "port": "25"}}, "rules.channels.email.port", "whole number"),
        ({"email": {"host": "h", "from": "a@b.c", "ssl": "yes"}}, "rules.channels.email.ssl", "true or false"),
        ({"salesbot": {}}, "rules.channels.salesbot.bot_id", "is required"),
        ({"salesbot": {"bots": {"promo": "x"}}}, "rules.channels.salesbot.bots", "Salesbot ids"),
    ],
)
def test_channel_problems_name_the_path(value, path, fragment):
    problems = validate_channels(value)
    assert any(p == path and fragment in m for p, m in problems), problems


def test_a_channel_with_problems_is_left_out_but_others_stay():
    settings, problems = parse_channels({"sms": {}, "email": {"host": "h", "from": "a@b.c"}})
    assert problems and settings.sms is None and settings.email is not None


# --- building and choosing --------------------------------------------------------------------------


class Launcher:
    def __init__(self, error: Exception | None = None) -> None:
        self.runs: list[tuple[int, int, str]] = []
        self.error = error

    def run_salesbot(self, bot_id: int, entity_id: int, entity_type: str = "leads") -> bool:
        if self.error:
            raise self.error
        self.runs.append((bot_id, entity_id, entity_type))
        return True


def test_build_channels_from_a_tenant():
    channels = build_channels(tenant({"channels": yaml.safe_load(CHANNELS_YAML)}), amocrm=Launcher())
    assert set(channels) == {"sms", "email", "salesbot"}
    assert isinstance(channels["sms"], SmsChannel) and isinstance(channels["email"], EmailChannel)
    assert isinstance(channels["salesbot"], SalesbotChannel)
    assert channels["email"].fallback_subject == "Test Salon"


def test_salesbot_needs_a_launcher_and_bad_config_raises_with_every_problem():
    assert "salesbot" not in build_channels(tenant({"channels": yaml.safe_load(CHANNELS_YAML)}))
    with pytest.raises(ChannelConfigError) as caught:
        build_channels(tenant({"channels": {"sms": {}, "salesbot": {}}}))
    assert {p for p, _ in caught.value.problems} == {"rules.channels.sms.url", "rules.channels.salesbot.bot_id"}


@pytest.fixture
def channels():
    return build_channels(tenant({"channels": yaml.safe_load(CHANNELS_YAML)}), amocrm=Launcher())


def test_the_first_preferred_channel_that_can_reach_the_client_wins(channels):
    everyone = Recipient(phone=PHONE, email="olena@example.com", amo_contact_id=7)
    assert pick_channel(("email", "sms"), channels, everyone).name == "email"
    assert pick_channel(("sms", "email"), channels, everyone).name == "sms"
    assert pick_channel(("salesbot", "sms"), channels, everyone).name == "salesbot"


def test_unreachable_channels_are_skipped(channels):
    assert pick_channel(("sms", "email"), channels, Recipient(email="olena@example.com")).name == "email"
    assert pick_channel(("email", "sms"), channels, Recipient(phone=PHONE)).name == "sms"
    no_contact = Recipient(phone=PHONE)  # Salesbot runs on the amoCRM contact
    assert pick_channel(("salesbot", "email", "sms"), channels, no_contact).name == "sms"
    nothing = pick_channel(("salesbot",), channels, no_contact)
    assert isinstance(nothing, NoChannel)
    assert nothing.reason == "salesbot: the client has no phone number or no amoCRM contact"


def test_no_channel_says_why_for_each(channels):
    choice = pick_channel(("salesbot", "email", "sms"), {"email": channels["email"]}, Recipient(phone=PHONE))
    assert isinstance(choice, NoChannel)
    assert choice.reason == "salesbot: not configured; email: the client has no email address; sms: not configured"
    assert isinstance(pick_channel((), channels, Recipient(phone=PHONE)), NoChannel)


# --- salesbot ---------------------------------------------------------------------------------------


def test_salesbot_runs_the_template_bot_on_the_contact():
    launcher = Launcher()
    channel = SalesbotChannel(SalesbotSettings(bot_id=565, bots={"review_request": 777}), launcher)
    to = Recipient(phone=PHONE, amo_contact_id=42)
    assert channel.send(message(to)).provider_id == "565:42"
    channel.send(message(to, "review_request"))
    assert launcher.runs == [(565, 42, "contacts"), (777, 42, "contacts")]


def test_salesbot_can_write_the_text_to_a_contact_field_first():
    class Client(Launcher):
        def __init__(self) -> None:
            super().__init__()
            self.patches: list = []

        def update_contacts(self, contacts):
            self.patches.append(list(contacts))
            return list(contacts)

    client = Client()
    SalesbotChannel(SalesbotSettings(bot_id=1, text_field_id=99), client).send(message(Recipient(PHONE, None, 5)))
    assert client.patches == [[{"id": 5, "custom_fields_values": [{"field_id": 99, "values": [{"value": "Hello"}]}]}]]
    with pytest.raises(TypeError, match="update_contacts"):
        SalesbotChannel(SalesbotSettings(bot_id=1, text_field_id=99), Launcher())


@pytest.mark.parametrize(
    ("error", "retryable", "ambiguous"),
    [
        (RateLimited(3.0), True, False),
        (AmoHttpError(503, "POST", "/api/v2/salesbot/run"), True, False),
        (AmoHttpError(403, "POST", "/api/v2/salesbot/run", "forbidden"), False, False),
        (AmbiguousWrite("POST", "/api/v2/salesbot/run", "read timeout"), False, True),
        (ReauthRequired("salon", "refresh refused"), False, False),
        (RuntimeError("boom"), False, False),
    ],
)
def test_salesbot_errors_map_to_channel_errors(error, retryable, ambiguous):
    channel = SalesbotChannel(SalesbotSettings(bot_id=1), Launcher(error))
    with pytest.raises(ChannelError) as caught:
        channel.send(message(Recipient(PHONE, None, 5)))
    assert (caught.value.retryable, caught.value.ambiguous, caught.value.channel) == (retryable, ambiguous, "salesbot")


def test_salesbot_without_a_contact_is_a_final_error():
    with pytest.raises(ChannelError) as caught:
        SalesbotChannel(SalesbotSettings(bot_id=1), Launcher()).send(message(Recipient(phone=PHONE)))
    assert not caught.value.retryable


# --- small helpers ----------------------------------------------------------------------------------


def test_json_path():
    doc = {"data": {"messages": [{"id": 7}], "empty": ""}}
    assert json_path(doc, "data.messages.0.id") == "7"
    assert json_path(doc, "data.messages.1.id") is None
    assert json_path(doc, "data.empty") is None
    assert json_path(doc, "data") is None
    assert json_path([{"id": "x"}], "0.id") == "x"


def test_html_body_escapes_and_links():
    html = html_body("Hi <b>Ann</b> & co\nsecond line\n\nBook: https://x.example/c/a.b?x=1&y=2")
    assert "&lt;b&gt;Ann&lt;/b&gt; &amp; co<br>second line</p><p>" in html
    assert '<a href="https://x.example/c/a.b?x=1&amp;y=2">' in html


def test_build_email_is_multipart_alternative():
    email = build_email("Salon <robot@salon.example>", "ann@example.com", "Subj", "Text", reply_to="desk@salon.example")
    assert email.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in email.iter_parts()] == ["text/plain", "text/html"]
    assert email["Message-ID"].endswith("@salon.example>") and email["Reply-To"] == "desk@salon.example"


def test_check_messaging_lists_channel_template_and_secret_problems():
    rules = {
        "channels": yaml.safe_load(CHANNELS_YAML) | {"salesbot": {}},
        "templates": {"welcome": {"uk": "{{ nme }}"}},
    }
    problems = dict(check_messaging(rules, environ={"SALON_SMS_TOKEN": "x"}))
    assert problems == {
        "rules.channels.salesbot.bot_id": "is required (or bots: {template: bot id})",
        "rules.templates.welcome.uk.text": "unknown placeholder(s) nme; allowed: name, bonus, branch, link",
        "rules.channels.email.password_env": "environment variable SALON_SMTP_PASSWORD is not set",
    }
    assert check_messaging({"channels": ["sms"]}, environ={}) == []


def test_an_address_with_a_line_break_is_a_final_error_not_a_header():
    channel = EmailChannel(parse_channels({"email": {"host": "h", "from": "a@b.c"}})[0].email)  # type: ignore[arg-type]
    with pytest.raises(ChannelError) as caught:
        channel.send(message(Recipient(email="ann@example.com\nBcc: all@example.com")))
    assert not caught.value.retryable and "Bcc" not in str(caught.value)
