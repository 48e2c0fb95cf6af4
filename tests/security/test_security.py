"""The security checks, in one run: ``pytest -m security``.

This module proves what no other test does:
- every inbound hook (the booking hooks of each source, the amoCRM hook, the LiqPay and WayForPay callbacks)
  refuses a wrong token or signature, compares it with ``hmac.compare_digest`` and stores nothing (a payment
  callback only as received, for the audit: marked ``bad_signature`` and tied to no prepayment);
- the JSON API of one salon is a 404 with another salon's valid token, on every route;
- no secret (booking, amoCRM and API tokens, the amoCRM client secret, payment keys, ``SECRET_KEY``) appears in
  ``/metrics``, in an error answer (404, 405, 400, 413, 500) or in the log lines these requests write;
- the checks fail when a guarantee is broken on purpose (``test_the_hook_check_fails_...``,
  ``test_the_isolation_check_fails_...``).

Linked here by the ``security`` marker, where they already were:
- a payment callback replayed after a later status is ignored, a tampered one is refused:
  tests/integration/test_payment_hooks.py;
- dashboard pages need a sign-in, forms need the CSRF token, a manager sees only their salon (404 for another),
  sessions end on sign-out and on a new password, sign-in is rate-limited: tests/integration/test_dashboard.py;
- no secret, phone or email in any log of a running install: tests/e2e/test_log_secrets.py;
- a wrong or missing API token is the same 404 whatever was wrong: tests/integration/test_reconnect_api.py,
  tests/integration/test_prepayments_api.py;
- signed client links (forged, expired, another client's): tests/integration/test_client_page.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bridge.store.models import Base, PaymentCallback
from tests.conftest import TENANT_YAML, TOKEN, TOKEN_ENV
from tests.helpers import yclients_record
from webhooks.app import create_app

pytestmark = pytest.mark.security

SECRETS = {
    "SALON_AMO_HOOK": "amo-hook-secret-7d1f0c2b9a",
    "SALON_AMO_ID": "amo-client-id-5b8e2f",
    "SALON_AMO_SECRET": "amo-client-secret-3c9a1e77f0",
    "SALON_API": "salon-api-token-8f2d6b41c0",
    "SALON_LP_PUBLIC": "sandbox_i98765432",
    "SALON_LP_PRIVATE": "liqpay-private-key-0e4f9a2d",
    "SALON_WFP_SECRET": "wayforpay-secret-1a7c3e5b",
    "OTHER_HOOK": "other-salon-hook-token-66a1",
    "OTHER_API": "other-salon-api-token-4d2e",
    "SECRET_KEY": "install-secret-key-2b7f4e9c1d5a8e3f",
    TOKEN_ENV: TOKEN,
}
PREPAYMENT = """prepayment:
  provider: liqpay
  liqpay: {public_key_env: SALON_LP_PUBLIC, private_key_env: SALON_LP_PRIVATE, signature: sha3-256}
  wayforpay: {merchant_account: salon_merchant, secret_key_env: SALON_WFP_SECRET, domain: salon.example}
  amount: {fixed: 300}
  rules: [{name: all}]
"""
AMOCRM = ("  base_url: http://127.0.0.1:9\n  client_id_env: SALON_AMO_ID\n  client_secret_env: SALON_AMO_SECRET\n"
          "  webhook_token_env: SALON_AMO_HOOK\n")


@pytest.fixture
def tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two salons, each with every secret a tenant can have, all in the (monkeypatched) environment."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    salon = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n", AMOCRM) + "api_token_env: SALON_API\n" + PREPAYMENT
    (folder / "salon.yaml").write_text(salon, encoding="utf-8")
    other = (TENANT_YAML.replace("slug: salon", "slug: other").replace(TOKEN_ENV, "OTHER_HOOK")
             + "api_token_env: OTHER_API\n")
    (folder / "other.yaml").write_text(other, encoding="utf-8")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return folder


@pytest.fixture
def client(services):
    return create_app(services=services).test_client()


def stored_rows(services) -> dict[str, int]:
    with services.store.session() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def liqpay_form(key: str) -> dict[str, str]:
    data = base64.b64encode(json.dumps({"order_id": "sb-1-1", "status": "success", "amount": 300,
                                        "currency": "UAH", "public_key": SECRETS["SALON_LP_PUBLIC"]}).encode()).decode()
    signature = base64.b64encode(hashlib.sha3_256(f"{key}{data}{key}".encode()).digest()).decode()
    return {"data": data, "signature": signature}


def wayforpay_body(key: str) -> str:
    fields = ["salon_merchant", "sb-1-1", "300", "UAH", "123456", "4111****1111", "Approved", "1100"]
    signature = hmac.new(key.encode(), ";".join(fields).encode(), hashlib.md5).hexdigest()
    names = ["merchantAccount", "orderReference", "amount", "currency", "authCode", "cardPan", "transactionStatus",
             "reasonCode"]
    return json.dumps({**dict(zip(names, fields, strict=True)), "merchantSignature": signature})


@dataclass(frozen=True)
class Hook:
    name: str
    path: str
    send: Callable  # (test client, path) -> response


def _json(body: dict) -> Callable:
    return lambda c, path: c.post(path, json=body)


HOOKS = [
    Hook("booking hook, wrong token", "/hooks/salon/yclients/wrong-token-0123456789", _json(yclients_record())),
    Hook("booking hook, another salon's token", f"/hooks/salon/yclients/{SECRETS['OTHER_HOOK']}",
         _json(yclients_record())),
    Hook("booking hook, empty token", "/hooks/salon/yclients/%20", _json(yclients_record())),
    Hook("generic booking hook, wrong token", "/hooks/salon/generic/wrong-token-0123456789",
         _json({"event": "booking.created", "booking": {"id": "1"}})),
    Hook("amoCRM hook, wrong token", "/hooks/salon/amocrm/wrong-token-0123456789",
         lambda c, path: c.post(path, data={"leads[status][0][id]": "1", "account[id]": "1"})),
    Hook("amoCRM hook, the booking token", f"/hooks/salon/amocrm/{TOKEN}",
         lambda c, path: c.post(path, data={"leads[status][0][id]": "1", "account[id]": "1"})),
    Hook("LiqPay callback signed with another key", "/hooks/salon/pay/liqpay",
         lambda c, path: c.post(path, data=liqpay_form("not-the-private-key"))),
    Hook("LiqPay callback, signature of the right length", "/hooks/salon/pay/liqpay",
         lambda c, path: c.post(path, data={"data": liqpay_form("x")["data"], "signature": "A" * 44})),
    Hook("WayForPay callback signed with another key", "/hooks/salon/pay/wayforpay",
         lambda c, path: c.post(path, data=wayforpay_body("not-the-secret"), content_type="application/json")),
]


def refusal_problems(client, services, hook: Hook, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What is wrong with how ``hook`` treats a bad token or signature: [] when it is refused with a 4xx,
    compared in constant time and nothing is stored."""
    compared: list[int] = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append(1)
        return real(a, b)

    before = stored_rows(services)
    monkeypatch.setattr(hmac, "compare_digest", spy)
    try:
        response = hook.send(client, hook.path)
    finally:
        monkeypatch.setattr(hmac, "compare_digest", real)
    problems = []
    if not 400 <= response.status_code < 500:
        problems.append(f"answered {response.status_code}, not a refusal")
    if not compared:
        problems.append("the token or signature was not compared with hmac.compare_digest")
    changed = {t: (before[t], n) for t, n in stored_rows(services).items() if n != before[t]}
    if changed.get("payment_callbacks") == (before["payment_callbacks"], before["payment_callbacks"] + 1):
        with services.store.session() as s:  # kept as received for the audit, marked, tied to nothing
            last = s.scalars(select(PaymentCallback).order_by(PaymentCallback.id.desc())).first()
            if (last.outcome, last.prepayment_id) == ("bad_signature", None):
                del changed["payment_callbacks"]
    if changed:
        problems.append(f"stored rows: {changed}")
    return problems


@pytest.mark.parametrize("hook", HOOKS, ids=[h.name for h in HOOKS])
def test_every_inbound_hook_refuses_a_bad_token_or_signature_in_constant_time_and_stores_nothing(
        client, services, hook, monkeypatch):
    assert refusal_problems(client, services, hook, monkeypatch) == []


def test_the_hook_check_fails_when_a_hook_accepts_any_token(client, services, monkeypatch):
    """The guarantee broken on purpose: a booking hook that takes every token is caught."""
    import webhooks.hooks

    monkeypatch.setattr(webhooks.hooks, "_authorized_tenant", lambda slug, source, token: services.tenants[slug])
    problems = refusal_problems(client, services, HOOKS[0], monkeypatch)
    assert any("not a refusal" in p for p in problems) and any("stored rows" in p for p in problems), problems
    assert any("compare_digest" in p for p in problems)


def api_paths(app, slug: str) -> list[tuple[str, str]]:
    """Every JSON API route of a tenant, as (method, path) with its other arguments filled in."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/tenants/<slug>"):
            continue
        values = {arg: (1 if arg.endswith("_id") else "x") for arg in rule.arguments if arg != "slug"}
        path = rule.build({**values, "slug": slug}, append_unknown=False)[1]
        out.extend((method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return out


def foreign_answers(services) -> dict[str, int]:
    """Every JSON API route of one salon asked with the other salon's valid token, both ways: the answers
    that are neither 403 nor 404."""
    app = create_app(services=services)
    client = app.test_client()
    own = {"Authorization": f"Bearer {SECRETS['SALON_API']}"}
    assert client.get("/api/tenants/salon/clients", headers=own).status_code == 200  # the token works at home
    other = {"Authorization": f"Bearer {SECRETS['OTHER_API']}"}
    paths = api_paths(app, "other")
    assert len(paths) >= 10, paths
    answers = {f"{method} {path}": client.open(path, method=method, headers=own, json={}).status_code
               for method, path in paths}
    answers |= {f"{method} {path} (other's token)": client.open(path.replace("/other/", "/salon/"), method=method,
                                                               headers=other, json={}).status_code
                for method, path in paths}
    return {k: v for k, v in answers.items() if v not in (403, 404)}


def test_one_salons_api_token_opens_no_route_of_another_salon(services):
    assert foreign_answers(services) == {}


def test_the_isolation_check_fails_when_any_token_opens_any_salon(services, monkeypatch):
    """The guarantee broken on purpose: an API that takes a token without asking whose it is is caught."""
    import webhooks.api_auth

    monkeypatch.setattr(webhooks.api_auth, "authorized_tenant", lambda slug: services.tenants.get(slug))
    opened = foreign_answers(services)
    assert "GET /api/tenants/other/clients" in opened and len(opened) >= 10, opened


def test_no_secret_in_metrics_error_answers_or_their_log_lines(services, caplog):
    app = create_app(services=services)

    @app.get("/_test/fails")
    def fails():
        raise RuntimeError("a bug in a view")

    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    answers = {
        "metrics": client.get("/metrics"),
        "404": client.get("/no/such/page"),
        "405": client.get(f"/hooks/salon/yclients/{TOKEN}"),
        "400": client.post(f"/hooks/salon/yclients/{TOKEN}", data=b"{not json", content_type="application/json"),
        "415": client.post(f"/hooks/salon/yclients/{TOKEN}", data=b"a=b"),
        "413": client.post(f"/hooks/salon/yclients/{TOKEN}", data=b"x" * (3 << 20), content_type="application/json"),
        "liqpay refused": client.post("/hooks/salon/pay/liqpay", data=liqpay_form("wrong")),
        "500": client.get("/_test/fails"),
    }
    assert answers["metrics"].status_code == 200 and answers["500"].status_code == 500
    assert answers["413"].status_code == 413
    secrets = {name: value for name, value in SECRETS.items()  # the token is in the URL sent; a public key is public
               if name not in (TOKEN_ENV, "SALON_LP_PUBLIC")}
    leaks = {(where, name) for where, answer in answers.items() for name, value in secrets.items()
             if value in answer.get_data(as_text=True) or value in str(answer.headers)}
    leaks |= {("log", name) for name, value in SECRETS.items() if value in caplog.text}
    assert leaks == set()
