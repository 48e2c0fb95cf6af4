"""``POST /hooks/<tenant>/pay/<provider>`` over real HTTP, with the payment sandbox calling back as the
providers do: paid, declined, duplicate, tampered, wrong amount, refund, replay, unknown order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bridge.payments.links import open_payment
from bridge.store import prepayments as repo
from bridge.store.models import LedgerEntry, PaymentCallback
from payment_sandbox import running
from pipelines.prepayment import on_deadline
from tests.conftest import TENANT_YAML, TOKEN, TOKEN_ENV
from tests.fakes.http import serve
from webhooks.app import create_app
from webhooks.payment_hooks import AFTER_CHANGE

LP_PUBLIC, LP_PRIVATE = "sandbox_i22222222", "lp-private-key-of-the-salon"
WFP_ACCOUNT, WFP_SECRET = "salon_merchant", "wfp-secret-of-the-salon"
PROVIDERS = ["liqpay", "wayforpay"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with running({LP_PUBLIC: LP_PRIVATE}, {WFP_ACCOUNT: WFP_SECRET}) as url:
        yield url


@pytest.fixture
def tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: str) -> Path:
    """The shared test tenant plus a prepayment section whose providers are the sandbox."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    section = f"""prepayment:
  provider: liqpay
  liqpay: {{public_key_env: SALON_LP_PUBLIC, private_key_env: SALON_LP_PRIVATE, signature: sha3-256,
           checkout_url: "{sandbox}/api/3/checkout", api_url: "{sandbox}/api/request"}}
  wayforpay: {{merchant_account: {WFP_ACCOUNT}, secret_key_env: SALON_WFP_SECRET, domain: salon.example,
              pay_url: "{sandbox}/pay", api_url: "{sandbox}/api"}}
  amount: {{fixed: 300}}
  rules: [{{name: all}}]
"""
    (folder / "salon.yaml").write_text(TENANT_YAML + section, encoding="utf-8")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("SALON_LP_PUBLIC", LP_PUBLIC)
    monkeypatch.setenv("SALON_LP_PRIVATE", LP_PRIVATE)
    monkeypatch.setenv("SALON_WFP_SECRET", WFP_SECRET)
    return folder


@pytest.fixture
def app(services):
    return create_app(services=services)


@pytest.fixture
def web(app) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture(autouse=True)
def calm_sandbox(sandbox):
    requests.post(f"{sandbox}/_sandbox/reset", timeout=5).raise_for_status()


_bookings = iter(range(70001, 80000))


def open_for(services, web: str, provider: str, amount: str = "300") -> tuple[str, str]:
    """A prepayment attempt and its link, as the executor will open one (booking ids unique per test run)."""
    from bridge.payments import provider_for

    tenant = services.tenants["salon"]
    now = datetime.now(UTC)
    opened = open_payment(services.store, tenant, booking_id=str(next(_bookings)), amount=Decimal(amount),
                          currency="UAH", deadline_at=now + timedelta(hours=12), description="Передоплата: манікюр",
                          public_url=web, now=now, provider=provider_for(tenant, provider), branch="111111")
    return opened.order_ref, opened.url


def click(url: str, button: str) -> requests.Response:
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and 'id="pay"' in page.text, page.text
    return requests.post(f"{page.url}/{button}", timeout=15)


def sandbox_order(sandbox: str, provider: str, ref: str) -> dict:
    return requests.get(f"{sandbox}/_sandbox/orders/{provider}/{ref}", timeout=5).json()


def knobs(sandbox: str, **values) -> None:
    requests.post(f"{sandbox}/_sandbox/knobs", json=values, timeout=5).raise_for_status()


def row_of(services, ref: str):
    with services.store.session() as s:
        return repo.find_by_order_ref(s, "salon", ref)


def ledger(services, ref: str) -> list[tuple[str, Decimal]]:
    with services.store.session() as s:
        row = repo.find_by_order_ref(s, "salon", ref)
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.prepayment_id == row.id).order_by(LedgerEntry.id))
        return [(e.kind, e.amount) for e in entries]


def callbacks(services, ref: str) -> list[tuple[str, int]]:
    with services.store.session() as s:
        rows = s.scalars(select(PaymentCallback).where(PaymentCallback.order_ref == ref).order_by(PaymentCallback.id))
        return [(r.outcome, r.deliveries) for r in rows]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_paid_moves_the_prepayment_to_paid_with_income_and_receipt(services, web, sandbox, provider):
    ref, url = open_for(services, web, provider)
    assert row_of(services, ref).status == "pending"
    click(url, "paid")
    row = row_of(services, ref)
    assert (row.status, row.paid_at is not None, row.received_amount) == ("paid", True, Decimal("300"))
    assert ledger(services, ref) == [("income", Decimal("300"))] and row.receipt_number.startswith("PP-")
    assert callbacks(services, ref) == [("applied", 1)]
    assert [d["accepted"] for d in sandbox_order(sandbox, provider, ref)["deliveries"]] == [True]
    with services.store.session() as s:
        stored = s.scalar(select(PaymentCallback).where(PaymentCallback.order_ref == ref))
        assert (stored.status_before, stored.status_after, stored.prepayment_id) == ("pending", "paid", row.id)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_declined_then_paid_on_the_same_link(services, web, sandbox, provider):
    ref, url = open_for(services, web, provider)
    click(url, "declined")
    row = row_of(services, ref)
    assert (row.status, row.failed_at is not None, ledger(services, ref)) == ("failed", True, [])
    click(url, "paid")
    assert row_of(services, ref).status == "paid" and ledger(services, ref) == [("income", Decimal("300"))]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_duplicate_callback_changes_nothing(services, web, sandbox, provider):
    ref, url = open_for(services, web, provider)
    knobs(sandbox, callback_times=2)
    click(url, "paid")
    assert row_of(services, ref).status == "paid"
    assert ledger(services, ref) == [("income", Decimal("300"))]  # one entry, not two
    assert callbacks(services, ref) == [("applied", 2)]  # one body kept, delivered twice
    assert [d["accepted"] for d in sandbox_order(sandbox, provider, ref)["deliveries"]] == [True, True]


@pytest.mark.security
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tampered_callback_is_refused_with_403_and_changes_nothing(services, web, sandbox, provider, caplog):
    ref, url = open_for(services, web, provider)
    knobs(sandbox, tamper_signature=True)
    click(url, "paid")
    deliveries = sandbox_order(sandbox, provider, ref)["deliveries"]
    assert [(d["http_status"], d["accepted"]) for d in deliveries] == [(403, False)]
    assert row_of(services, ref).status == "pending" and ledger(services, ref) == []
    with services.store.session() as s:  # stored as received, marked, not tied to any prepayment
        stored = s.scalar(select(PaymentCallback).where(PaymentCallback.provider == provider))
        assert (stored.outcome, stored.prepayment_id, stored.order_ref) == ("bad_signature", None, None)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("bridge", "webhooks")))
    assert "signature does not verify" in ours
    for secret in (LP_PRIVATE, WFP_SECRET, "data=", "merchantSignature"):  # no secret, no body in our logs
        assert secret not in ours


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_different_amount_is_held_with_an_alert_never_paid(services, web, sandbox, provider):
    ref, url = open_for(services, web, provider)
    knobs(sandbox, pay_amount="30")
    click(url, "paid")
    row = row_of(services, ref)
    assert (row.status, row.received_amount, ledger(services, ref)) == ("held", Decimal("30"), [])
    assert row.alert == "paid 30 UAH, expected 300.00 UAH: not accepted automatically"


@pytest.mark.security
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_later_moves_to_refunded_and_a_replayed_success_is_ignored(services, web, sandbox, provider):
    ref, url = open_for(services, web, provider)
    click(url, "paid")
    requests.post(f"{sandbox}/_sandbox/orders/{provider}/{ref}/refund", timeout=15).raise_for_status()
    row = row_of(services, ref)
    assert (row.status, row.refunded_at is not None) == ("refunded", True)
    assert ledger(services, ref) == [("income", Decimal("300")), ("refund", Decimal("-300"))]
    paid_word = {"liqpay": "success", "wayforpay": "Approved"}[provider]
    requests.post(f"{sandbox}/_sandbox/orders/{provider}/{ref}/resend", json={"status": paid_word},
                  timeout=15).raise_for_status()
    assert row_of(services, ref).status == "refunded"
    assert ledger(services, ref) == [("income", Decimal("300")), ("refund", Decimal("-300"))]
    assert sum(n for _, n in callbacks(services, ref)) == 3


def test_paid_after_expiry_is_held_and_alerted(services, web, sandbox):
    ref, url = open_for(services, web, "liqpay")
    with services.store.session() as s:
        row = repo.find_by_order_ref(s, "salon", ref, lock=True)
        repo.apply_change(s, row, on_deadline(repo.status_of(row), row.deadline_at, row.deadline_at, None,
                                              expected=Decimal("300"), currency="UAH"), datetime.now(UTC))
    click(url, "paid")
    row = row_of(services, ref)
    assert (row.status, ledger(services, ref)) == ("held", [])
    assert row.alert.startswith("paid after the prepayment was expired")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unknown_order_is_answered_200_and_changes_nothing(services, web, sandbox, provider):
    from bridge.payments import CheckoutOrder, provider_for

    now = datetime.now(UTC)
    adapter = provider_for(services.tenants["salon"], provider)
    url = adapter.checkout(CheckoutOrder("bk-never-stored-1", Decimal("300"), "UAH", "x",
                                         f"{web}/hooks/salon/pay/{provider}", now, now + timedelta(hours=1)))
    click(url, "paid")
    deliveries = sandbox_order(sandbox, provider, "bk-never-stored-1")["deliveries"]
    assert [(d["http_status"], d["accepted"]) for d in deliveries] == [(200, True)]  # WayForPay stops retrying
    assert callbacks(services, "bk-never-stored-1") == [("unknown_order", 1)]
    with services.store.session() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0


@pytest.mark.security
def test_a_verified_callback_for_another_liqpay_merchant_is_ignored(services, web, sandbox):
    from bridge.payments import CheckoutOrder
    from bridge.payments.liqpay import LiqPay

    requests.post(f"{sandbox}/_sandbox/merchants", json={"liqpay": {"i-other": LP_PRIVATE}}, timeout=5)
    ref, _ = open_for(services, web, "liqpay")
    settings = services.tenants["salon"].prepayment.liqpay
    now = datetime.now(UTC)
    other = LiqPay(settings, "i-other", LP_PRIVATE)  # same key, another merchant: verifies, is not ours
    click(other.checkout(CheckoutOrder(ref, Decimal("300"), "UAH", "x", f"{web}/hooks/salon/pay/liqpay", now)), "paid")
    assert row_of(services, ref).status == "pending"
    assert callbacks(services, ref) == [("not_ours", 1)]


@pytest.mark.parametrize(("path", "status"), [
    ("/hooks/nobody/pay/liqpay", 404), ("/hooks/salon/pay/stripe", 404), ("/hooks/salon/pay/../liqpay", 404),
])
def test_unknown_tenants_and_providers_are_404(web, path, status):
    assert requests.post(web + path, data=b"data=x&signature=y", timeout=5).status_code == status


def test_an_unreadable_body_is_400_and_kept(services, web):
    answer = requests.post(f"{web}/hooks/salon/pay/wayforpay", data=b"not json", timeout=5)
    assert answer.status_code == 400
    with services.store.session() as s:
        assert s.scalar(select(PaymentCallback.outcome)) == "unreadable"


@pytest.mark.parametrize("payload", [
    {"public_key": "i-other", "order_id": "x" * 300, "action": "pay", "status": "success"},  # not ours, too long
    {"public_key": LP_PUBLIC, "order_id": "sb-1", "action": ["pay"], "status": "success"},  # action not a text
    {"public_key": LP_PUBLIC, "order_id": "sb-1\u0000", "action": "pay", "status": "success"},  # NUL
    {"public_key": LP_PUBLIC, "order_id": "sb-\ud800", "action": "pay", "status": "success"},  # lone surrogate
    {"public_key": LP_PUBLIC, "order_id": "sb-1", "action": "pay", "status": "s" * 40, "amount": "abc"},
])
def test_a_signed_callback_with_unusable_values_is_a_4xx_never_a_5xx(services, web, payload):
    """Signed with the tenant's own key (so it passes the signature): the values still have to be usable."""
    import base64
    import json

    from bridge.payments.liqpay import sign

    data = base64.b64encode(json.dumps(payload).encode()).decode()
    signature = sign(LP_PRIVATE, data, "sha3_256")
    answer = requests.post(f"{web}/hooks/salon/pay/liqpay", data={"data": data, "signature": signature}, timeout=5)
    assert answer.status_code in (200, 400), answer.text


def test_a_missing_secret_is_503_so_the_provider_retries(services, web, monkeypatch):
    monkeypatch.delenv("SALON_WFP_SECRET")
    answer = requests.post(f"{web}/hooks/salon/pay/wayforpay", data=b"{}", timeout=5)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "300"
    assert "wfp-secret" not in answer.text


def test_the_executor_hook_runs_in_the_same_transaction_for_changes_only(services, app, web, sandbox):
    seen = []
    app.extensions[AFTER_CHANGE] = lambda session, row, change, report: seen.append(
        (row.order_ref, row.status, change.new_status.value, [e.value for e in change.effects]))
    ref, url = open_for(services, web, "wayforpay")
    knobs(sandbox, callback_times=2)
    click(url, "paid")
    assert seen == [(ref, "paid", "paid", ["record_income", "top_up_balance", "update_lead", "update_booking",
                                           "notify_admin", "notify_client"])]  # the duplicate did not call it


def test_opening_a_payment_twice_returns_the_same_attempt_and_link(services, web):
    from bridge.payments import provider_for

    tenant = services.tenants["salon"]
    now = datetime.now(UTC)
    args = {"booking_id": "booking-twice", "amount": Decimal("300"), "currency": "UAH",
            "deadline_at": now + timedelta(hours=3), "description": "x", "public_url": web, "now": now,
            "provider": provider_for(tenant, "wayforpay")}
    first = open_payment(services.store, tenant, **args)
    second = open_payment(services.store, tenant, **args)  # WayForPay would refuse a second invoice
    assert (second.order_ref, second.url, first.created, second.created) == (first.order_ref, first.url, True, False)


def test_the_openapi_document_describes_the_payment_hook(web):
    doc = requests.get(f"{web}/api/openapi.json", timeout=5).json()
    hook = doc["paths"]["/hooks/{tenant}/pay/{provider}"]["post"]
    assert {"200", "403", "404", "503"} <= set(hook["responses"])
