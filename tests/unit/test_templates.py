"""Default message templates: every language present, placeholders declared, contexts match them."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest

from config.prepayment_model import AmountKind, AmountSpec, PrepaymentConfig, PrepaymentRule
from pipelines.actions import SendMessage
from pipelines.events import BookingStatus as S
from pipelines.prepayment import Effect, Outcome, StatusChange
from pipelines.prepayment import PrepaymentStatus as Status
from pipelines.rules.context import Scene
from pipelines.rules.prepayment import on_change
from pipelines.snapshot import ClientState, Snapshot
from pipelines.templates import EXECUTOR_FILLS, TEMPLATES, default_text, placeholders_in
from tests.unit.playbook_sim import MANICURE, POLICY, T0, Salon
from tests.unit.playbook_sim import event as ev

EXPECTED = {
    "welcome",
    "confirmation",
    "reminder_24h",
    "review_request",
    "repeat_reminder",
    "promo",
    "lost_reminder",
    "lost_master_promo",
    "prepayment_link",
    "prepayment_paid",
    "prepayment_expired",
    "reconnect_first",
    "reconnect_follow_up",
    "birthday_greeting",
    "campaign",
}

CAMPAIGN_ONLY = {"reconnect_first", "reconnect_follow_up", "campaign"}  # sent by an operator's campaign


def test_the_fifteen_templates_exist():
    assert set(TEMPLATES) == EXPECTED


@pytest.mark.parametrize("template_id", sorted(EXPECTED))
@pytest.mark.parametrize("language", ["ru", "uk", "en"])
def test_each_text_uses_exactly_its_declared_placeholders(template_id, language):
    template = TEMPLATES[template_id]
    assert set(placeholders_in(template.texts[language])) == set(template.placeholders)
    assert "link" in template.placeholders


def test_unknown_languages_fall_back_to_russian():
    assert default_text("welcome", "de") == TEMPLATES["welcome"].texts["ru"]


def test_every_message_the_rules_build_fills_its_placeholders():
    """Drive a client through booking, visit, reminders and the lost sequence; check every context."""
    prepayment = PrepaymentConfig(provider="liqpay", rules=(
        PrepaymentRule(name="all", amount=AmountSpec(AmountKind.FIXED, Decimal(200))),), currency="UAH")
    policy = dataclasses.replace(POLICY, triggers=POLICY.triggers | {"repeat_promo", "birthday_greeting"},
                                 prepayment=prepayment)
    born = Snapshot(client=ClientState("c1", "Olha", reachable=True, birthday=date(1990, 5, 1)))
    salon, day = Salon(policy=policy, snapshot=born), timedelta(days=1)
    salon.send(ev("v1", S.SCHEDULED, T0 + 3 * day, MANICURE, occurred=T0))
    paid = salon.snapshot.prepayment("v1")
    scene = Scene(snapshot=salon.snapshot, policy=policy, now=T0 + day, client=salon.snapshot.client)
    for status, effect in ((Status.PAID, Effect.NOTIFY_CLIENT), (Status.EXPIRED, Effect.NOTIFY_CLIENT)):
        change = StatusChange(Status.PENDING, status, Outcome.APPLIED, None, (effect,))
        salon.apply(on_change(scene, paid, change, status.value), T0 + day)
    salon.send(ev("v1", S.COMPLETED, T0 + 3 * day, MANICURE, occurred=T0 + 3 * day + timedelta(hours=2)))
    salon.tick_daily(T0 + 4 * day, 120)
    messages = [a for a in salon.log if isinstance(a, SendMessage)]
    assert {m.template for m in messages} == EXPECTED - CAMPAIGN_ONLY  # tests/unit/test_reconnect_campaigns.py
    for m in messages:
        assert set(m.context) == set(TEMPLATES[m.template].placeholders) - set(EXECUTOR_FILLS), m.template
