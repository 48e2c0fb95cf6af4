"""The birthday greeting's pure rule: when it is due, when the clock next wakes for it, and what holds it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipelines.actions import SendMessage, Skip
from pipelines.planner import due
from pipelines.policy import DEFAULT_TRIGGERS, Policy
from pipelines.snapshot import ClientState, Snapshot
from pipelines.wakeup import next_wakeup

KYIV = ZoneInfo("Europe/Kyiv")
ON = Policy(tenant="t", timezone=KYIV, triggers=DEFAULT_TRIGGERS | {"birthday_greeting"}, birthday_hour=10,
            birthday_offer="a gift", salon_name="Studio")


def snap(born: date | None, marketing: tuple[datetime, ...] = (), **client: object) -> Snapshot:
    return Snapshot(client=ClientState(id="7", name="Olha", reachable=True, birthday=born, **client),
                    marketing_sent_at=marketing)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), KYIV)


def greetings(actions: list) -> list:
    return [a for a in actions if getattr(a, "template", None) == "birthday_greeting" or
            (isinstance(a, Skip) and a.rule == "birthday_greeting")]


def test_due_on_the_day_from_the_hour_with_one_key_per_year():
    s = snap(date(1990, 6, 15))
    assert greetings(due(s, ON, local(date(2026, 6, 15), 9, 59))) == []
    [sent] = greetings(due(s, ON, local(date(2026, 6, 15), 10)))
    assert isinstance(sent, SendMessage) and sent.marketing and sent.send_at is None
    assert sent.context == {"name": "Olha", "bonus": "a gift", "branch": "Studio"}
    [later] = greetings(due(s, ON, local(date(2027, 6, 15), 12)))
    assert later.key != sent.key  # one greeting per year
    assert greetings(due(s, ON, local(date(2026, 6, 16), 10))) == []  # a day late: never sent late


def test_the_wakeup_is_the_next_greeting_and_none_when_the_trigger_is_off():
    s = snap(date(1990, 6, 15))
    assert next_wakeup(s, ON, local(date(2026, 3, 1), 8)) == local(date(2026, 6, 15), 10)
    assert next_wakeup(s, ON, local(date(2026, 6, 15), 10)) == local(date(2027, 6, 15), 10)
    assert next_wakeup(s, Policy(tenant="t", timezone=KYIV), local(date(2026, 3, 1), 8)) is None
    assert next_wakeup(snap(None), ON, local(date(2026, 3, 1), 8)) is None


def test_29_february_is_greeted_on_the_28th_in_a_common_year():
    s = snap(date(2000, 2, 29))
    assert next_wakeup(s, ON, local(date(2027, 1, 1), 0)) == local(date(2027, 2, 28), 10)
    assert next_wakeup(s, ON, local(date(2028, 2, 1), 0)) == local(date(2028, 2, 29), 10)
    assert greetings(due(s, ON, local(date(2027, 2, 28), 10)))


def test_opted_out_blacklisted_and_unreachable_clients_are_skipped_with_the_reason():
    at = local(date(2026, 6, 15), 10)
    for client, reason in (({"opted_out": True}, "opted out"), ({"blacklisted": True}, "blacklisted")):
        [skip] = greetings(due(snap(date(1990, 6, 15), **client), ON, at))
        assert isinstance(skip, Skip) and reason in skip.reason
    silent = Snapshot(client=ClientState(id="7", reachable=False, birthday=date(1990, 6, 15)))
    assert isinstance(greetings(due(silent, ON, at))[0], Skip)


def test_quiet_hours_delay_it_within_the_day_and_a_cap_past_the_day_skips_it():
    early = dataclasses.replace(ON, birthday_hour=7)  # inside the default quiet hours (21:00-09:00)
    [held] = greetings(due(snap(date(1990, 6, 15)), early, local(date(2026, 6, 15), 7)))
    assert held.send_at == local(date(2026, 6, 15), 9)
    at = local(date(2026, 6, 15), 10)
    recent = (at.astimezone(UTC) - timedelta(days=1), at.astimezone(UTC) - timedelta(days=2))  # cap: 2 in 7 days
    [skip] = greetings(due(snap(date(1990, 6, 15), recent), ON, at))
    assert isinstance(skip, Skip) and "past the birthday" in skip.reason
