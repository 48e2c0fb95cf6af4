"""Our LiqPay and WayForPay adapters against the payment sandbox over real HTTP: links it accepts,
callbacks we verify, the answers it expects, status queries, invoice removal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from flask import Flask, request

from bridge.payments import CheckoutOrder, ProviderError
from bridge.payments.liqpay import LiqPay
from bridge.payments.wayforpay import WayForPay
from config.prepayment_model import LiqPaySettings, WayForPaySettings
from payment_sandbox import running
from pipelines.prepayment import ProviderStatus
from tests.fakes.http import serve

LP_PUBLIC, LP_PRIVATE = "sandbox_i11111111", "lp-private-key-for-tests"
WFP_ACCOUNT, WFP_SECRET = "salon_merchant", "wfp-secret-key-for-tests"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with running({LP_PUBLIC: LP_PRIVATE}, {WFP_ACCOUNT: WFP_SECRET}) as url:
        yield url


class Receiver:
    """A merchant endpoint that verifies callbacks with an adapter and answers what it returns."""

    def __init__(self) -> None:
        self.adapter = None
        self.reports: list = []
        self.app = Flask(__name__)
        self.app.add_url_rule("/cb", "cb", self.callback, methods=["POST"])

    def callback(self):
        body = request.get_data(cache=False)
        report = self.adapter.parse_callback(body, request.content_type or "")
        self.reports.append(report)
        answer = self.adapter.answer(report.order_ref, datetime.now(UTC))
        return answer.body, answer.status, {"Content-Type": answer.content_type}


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with serve(r.app) as url:
        yield r, f"{url}/cb"


def order(ref: str, callback_url: str, amount: str = "300") -> CheckoutOrder:
    now = datetime.now(UTC)
    return CheckoutOrder(ref, Decimal(amount), "UAH", "Передоплата: манікюр 14.06 10:00", callback_url, now,
                         now + timedelta(hours=2))


def liqpay(sandbox: str, signature: str = "sha1") -> LiqPay:
    settings = LiqPaySettings("P", "K", signature=signature, checkout_url=f"{sandbox}/api/3/checkout",
                              api_url=f"{sandbox}/api/request")
    return LiqPay(settings, LP_PUBLIC, LP_PRIVATE)


def wayforpay(sandbox: str) -> WayForPay:
    settings = WayForPaySettings(WFP_ACCOUNT, "S", "salon.example", pay_url=f"{sandbox}/pay", api_url=f"{sandbox}/api")
    return WayForPay(settings, WFP_SECRET)


def press(page_url: str, button: str) -> requests.Response:
    page = requests.get(page_url, timeout=5)
    assert page.status_code == 200 and 'id="pay"' in page.text, page.text
    return requests.post(page.url.rstrip("/") + f"/{button}", timeout=10)


@pytest.mark.parametrize("signature", ["sha1", "sha3-256"])
def test_liqpay_link_pay_callback_status_and_refund(sandbox, receiver, signature):
    r, callback = receiver
    r.adapter = adapter = liqpay(sandbox, signature)
    ref = f"bk-lp-{signature}-1"
    assert adapter.query_status(ref) is None  # nobody opened it yet
    link = adapter.checkout(order(ref, callback))
    page = requests.get(link, timeout=5)
    assert "300.00 UAH" in page.text and "Передоплата" in page.text
    assert press(link, "paid").status_code == 200
    assert r.reports[-1].order_ref == ref and r.reports[-1].status is ProviderStatus.PAID
    assert r.reports[-1].amount == Decimal("300")
    status = adapter.query_status(ref)
    assert (status.status, status.amount, status.provider_status) == (ProviderStatus.PAID, Decimal("300"), "success")
    requests.post(f"{sandbox}/_sandbox/orders/liqpay/{ref}/refund", timeout=10).raise_for_status()
    assert r.reports[-1].status is ProviderStatus.REFUNDED
    state = requests.get(f"{sandbox}/_sandbox/orders/liqpay/{ref}", timeout=5).json()
    assert [d["accepted"] for d in state["deliveries"]] == [True, True]


def test_liqpay_refuses_a_link_signed_with_another_key(sandbox):
    adapter = LiqPay(LiqPaySettings("P", "K", checkout_url=f"{sandbox}/api/3/checkout"), LP_PUBLIC, "wrong-key")
    answer = requests.get(adapter.checkout(order("bk-lp-wrong-1", "http://127.0.0.1:9/cb")), timeout=5)
    assert answer.status_code == 403 and answer.json()["err_code"] == "invalid_signature"


def test_wayforpay_invoice_decline_then_pay_and_the_signed_accept(sandbox, receiver):
    r, callback = receiver
    r.adapter = adapter = wayforpay(sandbox)
    ref = "bk-wfp-1"
    assert adapter.query_status(ref) is None
    link = adapter.checkout(order(ref, callback, "250.50"))
    assert adapter.query_status(ref).status is ProviderStatus.OPEN
    press(link, "declined")
    assert r.reports[-1].status is ProviderStatus.FAILED and r.reports[-1].reason.startswith("Cardholder cancelled")
    press(link, "paid")  # a declined card may be retried
    assert (r.reports[-1].status, r.reports[-1].amount) == (ProviderStatus.PAID, Decimal("250.5"))
    assert adapter.query_status(ref).status is ProviderStatus.PAID
    state = requests.get(f"{sandbox}/_sandbox/orders/wayforpay/{ref}", timeout=5).json()
    assert [d["accepted"] for d in state["deliveries"]] == [True, True]  # our accept is signed right


def test_wayforpay_refuses_a_duplicate_order_reference(sandbox, receiver):
    _, callback = receiver
    adapter = wayforpay(sandbox)
    adapter.checkout(order("bk-wfp-dup-1", callback))
    with pytest.raises(ProviderError, match="Duplicate Order ID"):
        adapter.checkout(order("bk-wfp-dup-1", callback))


def test_wayforpay_removed_invoice_cannot_be_paid(sandbox, receiver):
    _, callback = receiver
    adapter = wayforpay(sandbox)
    link = adapter.checkout(order("bk-wfp-rm-1", callback))
    adapter.cancel("bk-wfp-rm-1")
    adapter.cancel("bk-wfp-never-made-1")  # nothing to remove is fine
    page = requests.get(link, timeout=5)
    assert 'id="pay"' not in page.text and "Removed" in page.text
