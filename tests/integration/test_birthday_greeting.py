"""The birthday greeting as a salon sees it: clients typed in with their birthdays, the clock (due index)
and the sender over a real fake SMS gateway; one SMS on the day at the greeting hour, once a year, never
to a client who opted out or is blacklisted, and nothing when the salon has not turned it on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bridge.client_card import card_values
from bridge.services import Services
from bridge.store import clients as repo
from bridge.store.models import Client
from jobs.due import run_due
from jobs.messages import send_due
from salonbridge.cli import main
from tests.conftest import TENANT_YAML
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway

KYIV = ZoneInfo("Europe/Kyiv")
GREETING = "з днем народження"  # the default Ukrainian text


def tenant_file(sms_url: str, greeting_on: bool) -> str:
    return TENANT_YAML + (
        "rules:\n"
        f"  triggers: {{birthday_greeting: {'true' if greeting_on else 'false'}}}\n"
        "  channels:\n    sms:\n"
        f"      url: {sms_url}/api/send\n      token_env: SALON_SMS_TOKEN\n"
        "      body: {to: phone, text: message}\n      id_path: data.message_id\n"
        "clients:\n  birthday_hour: 11\n  birthday_offer: мінус 20% на манікюр\n"
    )


@pytest.fixture(params=[True, False], ids=["greeting_on", "turned_on_later"])
def salon(request, settings, monkeypatch):
    gateway = FakeSmsGateway()
    with serve(gateway.app()) as sms_url:
        monkeypatch.setenv("SALON_SMS_TOKEN", gateway.token)
        (settings.tenants_dir / "salon.yaml").write_text(tenant_file(sms_url, request.param), encoding="utf-8")
        built = [Services.build(settings, migrate=True)]

        def turn_on() -> Services:
            """The salon turns the greeting on in its file; the processes start again with it."""
            (settings.tenants_dir / "salon.yaml").write_text(tenant_file(sms_url, True), encoding="utf-8")
            built[0].close()
            built[0] = Services.build(settings, migrate=True)
            return built[0]

        try:
            yield built[0], gateway, request.param, turn_on
        finally:
            built[0].close()


def add_client(svc: Services, *args: str) -> None:
    result = CliRunner().invoke(main, ["clients", "add", "salon", *args], env=svc.settings.to_env(),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def opt_out(svc: Services, phone: str) -> None:
    tenant = svc.tenants["salon"]
    with svc.store.session() as s:
        repo.edit(s, repo.find(s, "salon", phone), card_values(tenant, {"opted_out": True}), datetime.now(UTC))


def ticker(svc: Services, gateway: FakeSmsGateway):
    def tick(local: datetime) -> list[dict]:
        """The clock and the sender at a local time; every SMS the gateway has received so far."""
        at = local.astimezone(UTC)
        run_due(svc, at)
        send_due(svc, at)
        return list(gateway.messages)
    return tick


def test_one_greeting_on_the_birthday_at_its_hour_once_a_year_never_to_opted_out_or_blacklisted(salon):
    svc, gateway, greeting_on, turn_on_later = salon
    tick = ticker(svc, gateway)
    today = datetime.now(KYIV).date()
    day = today + timedelta(days=3)
    if (day.month, day.day) == (2, 29):  # keep the test on a date every year has
        day += timedelta(days=1)
    born = date(1990, day.month, day.day)
    add_client(svc, "--name", "Ольга", "--phone", "067 123 45 67", "--birthday", born.isoformat())
    add_client(svc, "--name", "Ірина", "--phone", "067 765 43 21", "--birthday", born.isoformat())
    add_client(svc, "--name", "Марта", "--phone", "067 111 22 33", "--birthday", born.isoformat(), "--blacklisted")
    add_client(svc, "--name", "Віра", "--phone", "067 444 55 66",
               "--birthday", (born + timedelta(days=1)).isoformat())
    opt_out(svc, "+380677654321")

    at_hour = datetime.combine(day, datetime.min.time(), KYIV).replace(hour=11)
    assert tick(datetime.now(KYIV)) == []
    assert tick(at_hour - timedelta(minutes=1)) == []  # the day, but before the greeting hour

    if not greeting_on:
        assert tick(at_hour - timedelta(minutes=2)) == []
        with svc.store.session() as s:  # nobody waits for a birthday the salon does not greet
            assert s.scalars(select(Client.wake_at)).all() == [None, None, None, None]
        svc = turn_on_later()
        woken = CliRunner().invoke(main, ["clients", "wake", "salon"], env=svc.settings.to_env())
        assert woken.exit_code == 0 and "4 client(s) of salon will be evaluated" in woken.output
        tick = ticker(svc, gateway)
        assert tick(at_hour - timedelta(minutes=1)) == []

    with svc.store.session() as s:  # the next wake-up of each client is its greeting time
        wakes = {c.name: c.wake_at for c in s.scalars(select(Client))}
    assert wakes["Ольга"].astimezone(KYIV) == at_hour
    assert wakes["Віра"].astimezone(KYIV) == at_hour + timedelta(days=1)

    [sms] = tick(at_hour + timedelta(minutes=1))
    assert sms["phone"] == "+380671234567"
    assert GREETING in sms["message"].lower() and "Ольга" in sms["message"]
    assert "мінус 20% на манікюр" in sms["message"] and "Test Salon" in sms["message"]

    assert len(tick(at_hour + timedelta(hours=5))) == 1  # not twice the same day
    [_, next_day] = tick(at_hour + timedelta(days=1, minutes=1))  # Віра's birthday
    assert next_day["phone"] == "+380674445566"
    assert len(tick(at_hour + timedelta(days=30))) == 2

    next_year = at_hour.replace(year=at_hour.year + 1)
    [*_, again] = tick(next_year + timedelta(minutes=5))
    assert again["phone"] == "+380671234567" and GREETING in again["message"].lower()
    assert [m["phone"] for m in gateway.messages].count("+380671234567") == 2
    assert not {"+380677654321", "+380671112233"} & {m["phone"] for m in gateway.messages}
