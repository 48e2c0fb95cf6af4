"""Booking sources and message channels are declared once: a new one is one declaration plus one registry
line, and the tenant file, intake, the sender and the notes all pick it up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from marshmallow import post_load

from bridge import intake
from bridge.booking import registry as sources
from bridge.booking.source import Source
from bridge.messaging import registry as channels
from bridge.messaging.base import ChannelDeps, ChannelType, OutgoingMessage, Recipient, SendResult
from bridge.messaging.registry import NoChannel, build_channels, pick_channel
from bridge.tenancy import examine_document, vocabulary
from config.schema import EnvName, Strict
from pipelines.events import Booking, BookingStatus, VisitEvent
from tests.helpers import make_tenant

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)
DOCUMENT = {
    "slug": "salon", "name": "Salon", "timezone": "Europe/Kyiv", "branches": [{"id": "1", "name": "Main"}],
    "booking": {"source": "yclients", "webhook_token_env": "HOOK"}, "amocrm": {"base_url": "http://x"},
}


def load(**sections: Any):
    return examine_document({**DOCUMENT, **sections}, Path("salon.yaml"), {"TG_TOKEN": "t"})


def test_every_place_reads_the_one_table_of_sources():
    assert tuple(sources.SOURCES) == vocabulary().sources == ("yclients", "generic")
    assert sources.accepts("yclients", "yclients") and sources.accepts("yclients", "generic")
    assert not sources.accepts("generic", "yclients") and not sources.accepts("yclients", "amocrm")
    assert sources.get("yclients").poller is not None and sources.get("generic").poller is None


def _fresha(body: dict[str, Any], tenant, now: datetime) -> VisitEvent:
    booking = Booking(str(body["id"]), BookingStatus.SCHEDULED, now)
    return VisitEvent(tenant.slug, "fresha", f"fresha:{body['id']}", now, booking)


def test_a_new_source_is_one_declaration_and_one_registry_line(monkeypatch):
    monkeypatch.setitem(sources.SOURCES, "fresha", Source("fresha", _fresha, label="Fresha"))
    event = intake.normalize("fresha", {"id": 7}, make_tenant("yclients"), NOW)
    assert (event.source, event.dedupe_key) == ("fresha", "fresha:7")
    assert "salon" in load(booking={"source": "fresha", "webhook_token_env": "HOOK"}).tenants
    assert not sources.accepts("yclients", "fresha") and sources.accepts("fresha", "fresha")


@dataclass(frozen=True)
class TelegramSettings:
    bot_token_env: str


class TelegramSchema(Strict):
    bot_token_env = EnvName(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> TelegramSettings:
        return TelegramSettings(**data)


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: TelegramSettings, token: str | None) -> None:
        self.settings, self.token = settings, token

    def can_reach(self, to: Recipient) -> bool:
        return to.phone is not None

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(self.name, "tg-1")


TELEGRAM = ChannelType("telegram", "Telegram", TelegramSchema, "phone number for Telegram",
                       lambda settings, deps: TelegramChannel(settings, deps.environ.get(settings.bot_token_env)))


@pytest.fixture
def telegram(monkeypatch):
    monkeypatch.setitem(channels.CHANNEL_TYPES, "telegram", TELEGRAM)


def test_a_new_channel_is_one_declaration_and_one_registry_line(telegram):
    found = load(rules={"channels": {"telegram": {"bot_token_env": "TG_TOKEN"}, "sms": {"url": "https://sms.x"}}})
    tenant = found.tenants["salon"]
    assert tenant.rules.channels.preference == ("telegram", "sms")
    built = build_channels(tenant, environ={"TG_TOKEN": "secret"})
    assert isinstance(built["telegram"], TelegramChannel) and built["telegram"].token == "secret"
    assert channels.label("telegram") == "Telegram"
    choice = pick_channel(("telegram",), built, Recipient(email="a@b.c"))
    assert isinstance(choice, NoChannel) and choice.reason == "telegram: the client has no phone number for Telegram"


def test_a_new_channels_settings_are_checked_with_its_own_schema(telegram):
    found = load(rules={"channels": {"telegram": {"bot_token": "123:ABC"}}})
    problems = {p.field: p.message for p in found.problems}
    assert problems == {"rules.channels.telegram.bot_token": "unknown setting",
                        "rules.channels.telegram.bot_token_env": "is required"}
    unknown = load(rules={"channels": {"pigeon": {}}})
    assert [p.message for p in unknown.problems] == ["unknown channel; known: sms, email, salesbot, telegram"]


def test_channels_needing_amocrm_are_built_only_with_its_client():
    tenant = load(rules={"channels": {"salesbot": {"bot_id": 5}}}).tenants["salon"]
    assert channels.uses_amocrm(tenant)
    assert build_channels(tenant) == {}
    assert set(build_channels(tenant, amocrm=object())) == {"salesbot"}
    assert ChannelDeps(tenant, {}).amocrm is None
