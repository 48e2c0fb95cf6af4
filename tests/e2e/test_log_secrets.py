"""No secret, phone or email in any log of a full run: `salonbridge setup` and `salonbridge run` (access log on)
against an amoCRM sandbox, bookings with phones and emails, hostile requests that end in errors, client-page
and OAuth paths carrying tokens; then every line every process wrote is searched for each of them."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from amocrm_sandbox import create_sandbox_app
from bridge.store import crm_queue, stats
from bridge.store.db import Store
from config.logging import mask
from config.settings import Settings
from tests.conftest import TENANT_YAML, TOKEN
from tests.e2e.test_outages import install  # noqa: F401 - the fixture is used by name
from tests.fakes.http import serve
from tests.helpers import yclients_record
from tests.processes import salonbridge_run

pytestmark = [pytest.mark.slow, pytest.mark.security]

CLIENT_PAGE_TOKEN = "cpT0ken-abcdefghijklmnopqrstuvwxyz012345"


def bookings(n: int) -> list[tuple[dict, str, str]]:
    out = []
    for i in range(n):
        phone, email = f"+38067555{i:04d}", f"client.{i}.secret@example.org"
        body = yclients_record(record_id=7_000_000 + i, client_id=7_000_000 + i, phone=phone)
        body["data"]["client"]["email"] = email
        out.append((body, phone, email))
    return out


def test_no_configured_secret_phone_or_email_reaches_any_log(install, tmp_path):  # noqa: F811
    env = install["env"]
    with serve(create_sandbox_app(tmp_path / "sandbox.json")) as amo_url:
        amo_token = requests.post(f"{amo_url}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()[
            "access_token"]
        env["SALON_AMO_TOKEN"] = amo_token
        tenant = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n",
                                     f"  base_url: {amo_url}\n  long_lived_token_env: SALON_AMO_TOKEN\n")
        (install["dir"] / "tenants" / "salon.yaml").write_text(tenant, encoding="utf-8")
        setup = subprocess.run([sys.executable, "-m", "salonbridge", "setup", "salon"], env=env,
                               capture_output=True, text=True, timeout=120)
        assert setup.returncode == 0, setup.stderr
        log = install["dir"] / "run.log"
        data = bookings(15)
        with salonbridge_run(env, log) as (_run, base):
            hook = f"{base}/hooks/salon/yclients/{TOKEN}"
            for body, _phone, _email in data:
                assert requests.post(hook, json=body, timeout=10).status_code == 202
            hostile = [
                ("post", hook, {"data": "[" * 2000 + "]" * 2000, "headers": {"Content-Type": "application/json"}}),
                ("post", hook, {"data": b'{"resource": "record", "data": {"id": "\\ud800"}}',
                                "headers": {"Content-Type": "application/json"}}),
                ("post", f"{hook}/extra", {}),
                ("post", f"{base}/hooks/salon/yclients/{TOKEN}x", {"json": {}}),
                ("get", f"{base}/c/{CLIENT_PAGE_TOKEN}", {}),
                ("post", f"{base}/c/{CLIENT_PAGE_TOKEN}/opt-out", {}),
                ("get", f"{base}/oauth/salon/callback?code={amo_token[:40]}&state=salon.1.n.%C3%A9", {}),
                ("post", f"{base}/hooks/salon/amocrm/{TOKEN}", {"data": "leads[status][0][id]=null"}),
            ]
            answers = [getattr(requests, verb)(url, timeout=10, **kw).status_code for verb, url, kw in hostile]
            store = Store(Settings.from_env(env).database_url)
            deadline = time.monotonic() + 90
            while stats.events_by_status(store).get("done", 0) < len(data) and time.monotonic() < deadline:
                time.sleep(0.5)
            while crm_queue.backlog(store) and time.monotonic() < deadline:  # phones and emails go to amoCRM
                time.sleep(0.5)
            synced = not crm_queue.backlog(store)
            store.dispose()
    text = log.read_text(errors="replace") + setup.stdout + setup.stderr
    print(f"hostile answers: {answers}; {len(text.splitlines())} log lines")
    secrets = {"webhook token": TOKEN, "amoCRM token": amo_token, "SECRET_KEY": env["SECRET_KEY"],
               "client-page token": CLIENT_PAGE_TOKEN}
    leaked = [name for name, value in secrets.items() if value in text]
    leaked += [phone for _, phone, _ in data if phone in text or phone.lstrip("+") in text]
    leaked += [email for _, _, email in data if email in text]
    assert leaked == [], f"in the logs: {leaked}"
    assert synced, "the amoCRM sync did not finish: the test did not see the clients' data go out"
    assert "/hooks/salon/yclients/***" in text  # the access log was on and masked, not silent


def test_masking_covers_the_lines_flask_gunicorn_and_http_clients_write():
    lines = {
        f"Exception on /hooks/salon/yclients/{TOKEN} [POST]": TOKEN,
        f'127.0.0.1 - - "POST /hooks/salon/amocrm/{TOKEN}?x=1 HTTP/1.1" 500 0': TOKEN,
        f'"GET /c/{CLIENT_PAGE_TOKEN} HTTP/1.1" 404': CLIENT_PAGE_TOKEN,
        "Authorization: Bearer eyJ0eXAiOiJKV1Qi.abc.def": "eyJ0eXAiOiJKV1Qi.abc.def",
        '{"access_token": "tok-123456789", "refresh_token": "ref-987654321"}': "tok-123456789",
        "GET /oauth/salon/callback?code=def5020011&state=salon.1.n": "def5020011",
        "redis://:hunter2secret@redis.internal:6379/0": "hunter2secret",
    }
    for line, secret in lines.items():
        assert secret not in mask(line), line
    assert mask("POST /hooks/salon/pay/liqpay HTTP/1.1") == "POST /hooks/salon/pay/liqpay HTTP/1.1"
