"""LiqPay (PrivatBank): checkout links, callbacks, status queries (spec/payments.md §1).

``data`` is base64 of the JSON request; ``signature`` is base64 of the binary digest of
``private_key + data + private_key``: SHA-1 for API version 3, SHA3-256 for version 7. Requests are
signed with the tenant's configured version; callbacks are verified with either, told apart by length
(28 or 44 base64 characters), because both are keyed with the same private key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlencode

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
from config.prepayment_model import LiqPaySettings
from pipelines.prepayment import PaymentReport, ProviderStatus, amount_text

ALGORITHMS = {"sha1": "sha1", "sha3-256": "sha3_256"}
_ALGO_BY_LENGTH = {28: "sha1", 44: "sha3_256"}  # base64 of a 20- / 32-byte digest
_NOT_FOUND = {"payment_not_found", "order_not_found", "order_id_not_found"}
_ACTIONS = {"pay", "refund"}  # a callback for anything else (hold, subscribe, paydonate...) is not ours

# spec/payments.md §1.6. Anything not listed is "pending": logged, never taken as paid.
STATUS_MAP: dict[str, ProviderStatus] = {
    "success": ProviderStatus.PAID,
    "wait_compensation": ProviderStatus.PAID,  # paid, credited in the daily posting
    "wait_accept": ProviderStatus.PAID,  # money taken; the shop's verification is pending at LiqPay
    "failure": ProviderStatus.FAILED,
    "error": ProviderStatus.FAILED,
    "try_again": ProviderStatus.FAILED,  # the client may try again while the link lives
    "reversed": ProviderStatus.REFUNDED,
}


def encode(params: dict[str, Any]) -> str:
    """The ``data`` field: base64 (no line breaks) of compact UTF-8 JSON."""
    raw = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def sign(private_key: str, data: str, algorithm: str = "sha1") -> str:
    """base64(H(private_key + data + private_key)) over the exact ``data`` string sent or received."""
    digest = hashlib.new(algorithm, (private_key + data + private_key).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(private_key: str, data: str, signature: str) -> bool:
    """Constant-time check of a SHA-1 or SHA3-256 signature."""
    algorithm = _ALGO_BY_LENGTH.get(len(signature))
    if algorithm is None:
        return False
    return hmac.compare_digest(sign(private_key, data, algorithm).encode("ascii"),
                               signature.encode("ascii", "replace"))


class LiqPay:
    name = "liqpay"

    def __init__(self, settings: LiqPaySettings, public_key: str, private_key: str,
                 session: requests.Session | None = None) -> None:
        self.settings = settings
        self.public_key = public_key
        self._private_key = private_key
        self._algorithm = ALGORITHMS[settings.signature]
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"LiqPay(public_key={self.public_key!r}, signature={self.settings.signature!r})"

    def _envelope(self, params: dict[str, Any]) -> dict[str, str]:
        data = encode({"version": self.settings.version, "public_key": self.public_key, **params})
        return {"data": data, "signature": sign(self._private_key, data, self._algorithm)}

    def checkout_params(self, order: CheckoutOrder) -> dict[str, Any]:
        params: dict[str, Any] = {
            "action": "pay",
            "amount": amount_text(order.amount, order.currency),
            "currency": order.currency,
            "description": order.description,
            "order_id": order.order_ref,
        }
        if order.expires_at:  # UTC, "2016-04-24 00:00:00" (spec §1.9)
            params["expired_date"] = order.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        params["language"] = "en" if order.language == "en" else "uk"
        if order.result_url:
            params["result_url"] = order.result_url
        params["server_url"] = order.callback_url
        if self.settings.sandbox:
            params["sandbox"] = 1
        return params

    def checkout(self, order: CheckoutOrder) -> str:
        """A GET link to the hosted checkout; both values URL-encoded (base64 has ``+ / =``)."""
        return f"{self.settings.checkout_url}?{urlencode(self._envelope(self.checkout_params(order)))}"

    def parse_callback(self, body: bytes, content_type: str) -> PaymentReport:
        try:
            form = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CallbackError("not a form with data and signature") from exc
        if len(form.get("data", ())) != 1 or len(form.get("signature", ())) != 1:
            raise CallbackError("expected exactly one data and one signature field")
        data, signature = form["data"][0], form["signature"][0]
        if not verify(self._private_key, data, signature):
            raise SignatureError("LiqPay signature does not verify")
        try:  # decoded only after the signature matched
            payload = json.loads(base64.b64decode(data, validate=True), parse_float=Decimal)
        except (binascii.Error, ValueError, RecursionError) as exc:
            raise CallbackError("data is not base64 JSON") from exc
        if not isinstance(payload, dict) or not payload.get("order_id"):
            raise CallbackError("data has no order_id")
        readable(payload)
        order_ref = str(payload["order_id"])
        if payload.get("public_key") != self.public_key:
            raise NotOurs("callback for another LiqPay public key", order_ref)
        if not isinstance(payload.get("action"), str) or payload["action"] not in _ACTIONS:
            raise NotOurs(f"callback for action {payload.get('action')!r}, not a payment we asked for", order_ref)
        return self._report(payload)

    def _report(self, payload: dict[str, Any]) -> PaymentReport:
        raw = str(payload.get("status") or "")
        status = STATUS_MAP.get(raw, ProviderStatus.PENDING)
        reason = payload.get("err_description") or payload.get("err_code")
        if raw == "sandbox":  # a test payment: paid only for a tenant in sandbox mode (spec §1.6)
            status = ProviderStatus.PAID if self.settings.sandbox else ProviderStatus.FAILED
            reason = None if self.settings.sandbox else "test (sandbox) payment while sandbox mode is off"
        amount = payload.get("amount")
        try:
            amount = Decimal(str(amount)) if isinstance(amount, int | str | Decimal) else None
        except InvalidOperation:
            amount = None
        payment_id = payload.get("payment_id") or payload.get("transaction_id")
        currency = payload.get("currency")
        return PaymentReport(
            order_ref=str(payload["order_id"]),
            status=status,
            amount=amount if amount is not None and amount.is_finite() else None,
            currency=currency if isinstance(currency, str) else None,
            provider_status=raw,
            provider_payment_id=str(payment_id) if payment_id is not None else None,
            reason=str(reason) if reason else None,
        )

    def answer(self, order_ref: str | None, now: datetime) -> HttpAnswer:
        return HttpAnswer(200, b"", "text/plain")

    def _request(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._session.post(self.settings.api_url, data=self._envelope(params),
                                          timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.RequestException as exc:
            raise ProviderError(f"LiqPay unreachable: {type(exc).__name__}", retryable=True) from exc
        if response.status_code >= 500:
            raise ProviderError(f"LiqPay answered HTTP {response.status_code}", retryable=True)
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise ProviderError(f"LiqPay answered HTTP {response.status_code} without JSON") from exc
        if not isinstance(body, dict):
            raise ProviderError("LiqPay answered with an unexpected shape")
        return body

    def query_status(self, order_ref: str) -> PaymentReport | None:
        body = self._request({"action": "status", "order_id": order_ref})
        if body.get("result") == "error" or (body.get("status") == "error" and not body.get("order_id")):
            if body.get("err_code") in _NOT_FOUND:
                return None
            raise ProviderError(f"LiqPay status query refused: {body.get('err_description') or body.get('err_code')}")
        return self._report({**body, "order_id": body.get("order_id") or order_ref})

    def cancel(self, order_ref: str) -> None:
        """LiqPay has no call that closes a checkout link; its ``expired_date`` does that."""
