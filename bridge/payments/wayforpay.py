"""WayForPay: purchase form and invoice link, service-URL callbacks, CHECK_STATUS (spec/payments.md §2).

Every signature is lowercase hex HMAC-MD5 (key: the merchant's SecretKey) over documented fields joined
with ``;``. Amounts are signed as text, so outgoing amounts are written in one canonical form
(``300``, ``300.5``, ``1547.36``) and sent as the JSON number with exactly that text; incoming ones
are verified over the text that was in the JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from bridge.payments.base import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    CallbackError,
    CheckoutOrder,
    HttpAnswer,
    NotOurs,
    ProviderError,
    SignatureError,
    readable,
)
from config.prepayment_model import WayForPaySettings
from pipelines.prepayment import PaymentReport, ProviderStatus

CALLBACK_FIELDS = ("merchantAccount", "orderReference", "amount", "currency", "authCode", "cardPan",
                   "transactionStatus", "reasonCode")
OK, ORDER_NOT_FOUND = 1100, 1127

# spec/payments.md §2.7. We always request AUTO (sale), so a hold (WaitingAuthComplete) is unexpected:
# it is left pending, as is a refund still in processing. Anything unknown is pending too.
STATUS_MAP: dict[str, ProviderStatus] = {
    "Approved": ProviderStatus.PAID,
    "Created": ProviderStatus.OPEN,  # invoice made, nobody paid
    "Declined": ProviderStatus.FAILED,
    "Expired": ProviderStatus.FAILED,  # the provider's session ended; our own deadline decides expiry
    "Refunded": ProviderStatus.REFUNDED,
    "Voided": ProviderStatus.REFUNDED,
}


def sign(secret: str, fields: Iterable[object]) -> str:
    return hmac.new(secret.encode("utf-8"), ";".join(map(str, fields)).encode("utf-8"), hashlib.md5).hexdigest()


def amount_text(amount: Decimal) -> str:
    """Canonical text of an amount: kopiykas kept, trailing zeros dropped (300.00 -> 300, 300.50 -> 300.5)."""
    return format(amount.quantize(Decimal("0.01")).normalize(), "f")


def json_number(text: str) -> int | float:
    """The JSON number whose text is ``text`` (a float's repr is its shortest round-trip form)."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(text)


def product_name(text: str) -> str:
    """Names are joined with ``;`` in the signed string: strip ``;`` and line breaks (spec §6.6)."""
    return " ".join(text.replace(";", ",").split())[:250]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _php_amount(text: str) -> str:
    """PHP's ``(string)(float)`` of an amount: ``490.0`` -> ``490``, ``300.50`` -> ``300.5``."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return format(value.normalize(), "f") if value.is_finite() else text


class WayForPay:
    name = "wayforpay"

    def __init__(self, settings: WayForPaySettings, secret_key: str, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.account = settings.merchant_account
        self._secret = secret_key
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"WayForPay(merchant_account={self.account!r})"

    # --- creating a payment --------------------------------------------------------------------------

    def _purchase(self, order: CheckoutOrder) -> tuple[dict[str, Any], list[str]]:
        """Purchase fields common to the form and CREATE_INVOICE, signed; plus the signed texts."""
        amount = amount_text(order.amount)
        name = product_name(order.description)
        order_date = int(order.created_at.timestamp())
        signed = [self.account, self.settings.domain, order.order_ref, str(order_date), amount, order.currency,
                  name, "1", amount]
        fields: dict[str, Any] = {
            "merchantAccount": self.account,
            "merchantAuthType": "SimpleSignature",
            "merchantDomainName": self.settings.domain,
            "merchantSignature": sign(self._secret, signed),
            "orderReference": order.order_ref,
            "orderDate": order_date,
            "amount": amount,
            "currency": order.currency,
            "productName": [name],
            "productCount": [1],
            "productPrice": [amount],
            "serviceUrl": order.callback_url,
            "language": "EN" if order.language == "en" else "UA",
        }
        if order.result_url:
            fields["returnUrl"] = order.result_url
        if order.expires_at:
            fields["orderTimeout"] = max(60, math.ceil((order.expires_at - order.created_at).total_seconds()))
        return fields, signed

    def purchase_form(self, order: CheckoutOrder) -> list[tuple[str, str]]:
        """The fields of a browser POST to the pay URL (arrays as repeated ``name[]``)."""
        fields, _ = self._purchase(order)
        fields["merchantTransactionSecureType"] = "AUTO"
        pairs: list[tuple[str, str]] = []
        for key, value in fields.items():
            if isinstance(value, list):
                pairs.extend((f"{key}[]", str(v)) for v in value)
            else:
                pairs.append((key, str(value)))
        return pairs

    def invoice_request(self, order: CheckoutOrder) -> dict[str, Any]:
        fields, _ = self._purchase(order)
        fields["amount"] = json_number(fields["amount"])
        fields["productPrice"] = [json_number(p) for p in fields["productPrice"]]
        return {"transactionType": "CREATE_INVOICE", "apiVersion": 1, **fields}

    def checkout(self, order: CheckoutOrder) -> str:
        """CREATE_INVOICE; the answer's ``invoiceUrl`` is the link for the client."""
        body = self._call(self.invoice_request(order))
        if body.get("reasonCode") != OK or not body.get("invoiceUrl"):
            raise ProviderError(f"WayForPay refused the invoice: {body.get('reason')} ({body.get('reasonCode')})")
        return str(body["invoiceUrl"])

    # --- callbacks -----------------------------------------------------------------------------------

    def _verified(self, message: dict[str, Any], signature_key: str = "merchantSignature") -> bool:
        values = [_text(message.get(k)) for k in CALLBACK_FIELDS]
        got = _text(message.get(signature_key)).lower().encode("ascii", "replace")
        if hmac.compare_digest(sign(self._secret, values).encode("ascii"), got):
            return True
        values[2] = _php_amount(values[2])  # "490.0" signed by them as "490"
        return hmac.compare_digest(sign(self._secret, values).encode("ascii"), got)

    def parse_callback(self, body: bytes, content_type: str) -> PaymentReport:
        """The body is raw JSON whatever the Content-Type says (often a form type, spec §2.5)."""
        try:  # numbers kept as the text that was signed
            message = json.loads(body.decode("utf-8"), parse_int=str, parse_float=str)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CallbackError("not a JSON body") from exc
        if not isinstance(message, dict):
            raise CallbackError("not a JSON object")
        readable(message)
        if not self._verified(message):
            raise SignatureError("WayForPay signature does not verify")
        order_ref = _text(message.get("orderReference"))
        if not order_ref:
            raise CallbackError("no orderReference")
        if message.get("merchantAccount") != self.account:
            raise NotOurs("callback for another WayForPay merchant", order_ref)
        return self._report(message)

    @staticmethod
    def _report(message: dict[str, Any]) -> PaymentReport:
        raw = _text(message.get("transactionStatus"))
        try:
            amount: Decimal | None = Decimal(_text(message.get("amount")))
        except InvalidOperation:
            amount = None
        reason = _text(message.get("reason"))
        code = _text(message.get("reasonCode"))
        return PaymentReport(
            order_ref=_text(message.get("orderReference")),
            status=STATUS_MAP.get(raw, ProviderStatus.PENDING),
            amount=amount,
            currency=_text(message.get("currency")) or None,
            provider_status=raw,
            provider_payment_id=_text(message.get("authCode")) or None,
            reason=f"{reason} ({code})" if reason and code not in ("", str(OK)) else None,
        )

    def answer(self, order_ref: str | None, now: datetime) -> HttpAnswer:
        """The signed ``accept`` that stops WayForPay re-sending (it acknowledges receipt, not success)."""
        if order_ref is None:
            return HttpAnswer(200, b"", "text/plain")
        time = int(now.timestamp())
        body = {"orderReference": order_ref, "status": "accept", "time": time,
                "signature": sign(self._secret, [order_ref, "accept", time])}
        return HttpAnswer(200, json.dumps(body).encode("utf-8"), "application/json")

    # --- server API ----------------------------------------------------------------------------------

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._session.post(self.settings.api_url,
                                          data=json.dumps(request, ensure_ascii=False).encode("utf-8"),
                                          headers={"Content-Type": "application/json"},
                                          timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.RequestException as exc:
            raise ProviderError(f"WayForPay unreachable: {type(exc).__name__}", retryable=True) from exc
        if response.status_code >= 500:
            raise ProviderError(f"WayForPay answered HTTP {response.status_code}", retryable=True)
        try:
            body = json.loads(response.content, parse_int=str, parse_float=str)
        except ValueError as exc:
            raise ProviderError(f"WayForPay answered HTTP {response.status_code} without JSON") from exc
        if not isinstance(body, dict):
            raise ProviderError("WayForPay answered with an unexpected shape")
        code = str(body.get("reasonCode", ""))
        if code.isdigit():
            body["reasonCode"] = int(code)
        return body

    def _signed_request(self, kind: str, order_ref: str, extra: Sequence[tuple[str, Any]] = ()) -> dict[str, Any]:
        return {"transactionType": kind, "merchantAccount": self.account, "orderReference": order_ref,
                "merchantSignature": sign(self._secret, [self.account, order_ref]), "apiVersion": 1, **dict(extra)}

    def query_status(self, order_ref: str) -> PaymentReport | None:
        body = self._call(self._signed_request("CHECK_STATUS", order_ref))
        if body.get("reasonCode") == ORDER_NOT_FOUND:
            return None
        if not body.get("transactionStatus"):
            raise ProviderError(f"WayForPay status query refused: {body.get('reason')} ({body.get('reasonCode')})")
        body["reasonCode"] = _text(body.get("reasonCode"))
        if not self._verified(body):
            raise ProviderError("WayForPay status answer failed verification")
        return self._report(body)

    def cancel(self, order_ref: str) -> None:
        """REMOVE_INVOICE: the invoice link stops working (an unknown order is already gone)."""
        body = self._call(self._signed_request("REMOVE_INVOICE", order_ref))
        if body.get("reasonCode") not in (OK, ORDER_NOT_FOUND):
            raise ProviderError(f"WayForPay did not remove the invoice: {body.get('reason')} "
                                f"({body.get('reasonCode')})")
