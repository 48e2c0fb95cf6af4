"""A message campaign to a segment as the salon sees it: `salonbridge clients send` over the hand-built
client base, the clock's sender and a real fake SMS gateway. Blacklisted and opted-out clients, and those
without a phone, never get it; the same campaign sent again reaches nobody twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from bridge.services import Services
from bridge.store.models import Client
from jobs.messages import send_due
from salonbridge.cli import main
from tests.conftest import TENANT_YAML
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway
from tests.integration import client_data

TEXT = "весняна знижка 15% на манікюр до кінця місяця."


@pytest.fixture
def salon(settings, monkeypatch):
    gateway = FakeSmsGateway()
    with serve(gateway.app()) as sms_url:
        monkeypatch.setenv("SALON_SMS_TOKEN", gateway.token)
        (settings.tenants_dir / "salon.yaml").write_text(TENANT_YAML + (
            "rules:\n  quiet_hours: null\n  channels:\n    sms:\n"
            f"      url: {sms_url}/api/send\n      token_env: SALON_SMS_TOKEN\n"
            "      body: {to: phone, text: message}\n      id_path: data.message_id\n"
            "clients:\n  segments:\n    gold: {card_type: gold}\n"), encoding="utf-8")
        svc = Services.build(settings, migrate=True)
        ids = client_data.build(svc.store)
        with svc.store.session() as s:
            s.get(Client, ids["Петро"]).opted_out = True
        try:
            yield svc, gateway
        finally:
            svc.close()


def cli(svc: Services, *args: str, input: str | None = None):
    return CliRunner().invoke(main, ["clients", *args], env=svc.settings.to_env(), input=input,
                              catch_exceptions=False)


def test_a_campaign_reaches_the_segment_but_never_the_blacklisted_opted_out_or_unreachable(salon):
    svc, gateway = salon
    base = ("send", "salon", "--name", "spring-2026", "--text", TEXT, "--channel", "sms")

    dry = cli(svc, *base, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert ("2 client(s); left out: 1 blacklisted, 1 opted out, 1 with no address for the channel"
            in dry.output)  # Олена and Ганна; Марія, Петро, Софія (email only) left out
    assert "+38067***1111" in dry.output and "+380671111111" not in dry.output
    assert "dry run: nothing sent" in dry.output
    send_due(svc, datetime.now(UTC))
    assert gateway.messages == []

    declined = cli(svc, *base, input="n\n")
    assert declined.exit_code == 1 and "Send to 2 client(s)?" in declined.output
    sent = cli(svc, *base, "--yes")
    assert sent.exit_code == 0, sent.output
    assert "campaign spring-2026: 2 client(s), 2 message(s) scheduled" in sent.output
    send_due(svc, datetime.now(UTC))
    assert sorted(m["phone"] for m in gateway.messages) == ["+380671111111", "+380674444444"]
    olena = next(m["message"] for m in gateway.messages if m["phone"] == "+380671111111")
    assert olena.startswith("Олена, " + TEXT) and f"{svc.settings.public_url}/c/" in olena

    again = cli(svc, *base, "--yes")  # the same campaign: nobody twice
    assert "campaign spring-2026: 0 client(s), 0 message(s)" in again.output and "already sent" in again.output
    narrower = cli(svc, "send", "salon", "--segment", "gold", "--gender", "female", "--name", "gold-women",
                   "--text", TEXT, "--channel", "sms", "--yes")
    assert "campaign gold-women: 1 client(s), 1 message(s)" in narrower.output, narrower.output
    send_due(svc, datetime.now(UTC))
    assert [m["phone"] for m in gateway.messages].count("+380671111111") == 2
    assert len(gateway.messages) == 3


def test_bad_campaigns_are_refused_naming_the_option(salon):
    svc, _ = salon
    for args, option in ((("--name", "весна!", "--text", TEXT), "--name"), (("--name", "ok", "--text", " "), "--text"),
                         (("--name", "ok", "--text", TEXT, "--spend", "900..100"), "--spend")):
        refused = CliRunner().invoke(main, ["clients", "send", "salon", *args, "--yes"], env=svc.settings.to_env())
        assert refused.exit_code == 2 and option in refused.output, refused.output
