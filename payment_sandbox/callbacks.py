"""Server-to-server callbacks, as each provider sends them, delivered by a real HTTP POST."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests

from payment_sandbox.signing import (
    amount_text,
    json_amount,
    liqpay_data,
    liqpay_signature,
    wfp_signature,
    wfp_valid,
)
from payment_sandbox.state import Delivery, Knobs, Order, State

WFP_CALLBACK_FIELDS = ("merchantAccount", "orderReference", "amount", "currency", "authCode", "cardPan",
                       "transactionStatus", "reasonCode")
_FAILURE = {"liqpay": ("limit", "Card limit exceeded"), "wayforpay": ("Cardholder cancelled", 1125)}


def money_of(order: Order, knobs: Knobs) -> tuple[Decimal, str]:
    if order.paid_amount is not None:  # what was paid stays what every later callback reports
        return order.paid_amount, order.paid_currency or order.currency
    amount = Decimal(knobs.pay_amount) if knobs.pay_amount is not None else order.amount
    return amount, knobs.pay_currency or order.currency


def _tamper(signature: str) -> str:
    return ("B" if signature[0] != "B" else "C") + signature[1:]


def liqpay_payload(order: Order, status: str, amount: Decimal, currency: str) -> dict[str, Any]:
    """The decoded ``data`` of a LiqPay callback (also the answer to ``action=status``)."""
    payload: dict[str, Any] = {
        "action": "pay", "payment_id": order.payment_id, "status": status, "version": order.version, "type": "buy",
        "paytype": "card", "public_key": order.merchant, "acq_id": 414963, "order_id": order.order_ref,
        "liqpay_order_id": f"SANDBOX{order.payment_id}", "description": order.description,
        "sender_card_mask2": "424242*42", "amount": json_amount(amount), "currency": currency,
        "transaction_id": order.payment_id, "end_date": int(time.time() * 1000),
    }
    if status == "failure":
        payload["err_code"], payload["err_description"] = _FAILURE["liqpay"]
    return payload


def wfp_message(state: State, order: Order, status: str, amount: Decimal, currency: str) -> dict[str, Any]:
    """A WayForPay serviceUrl callback (also the answer to CHECK_STATUS), signed."""
    approved = status in ("Approved", "Refunded")
    reason, code = ("Ok", 1100) if status != "Declined" else _FAILURE["wayforpay"]
    message: dict[str, Any] = {
        "merchantAccount": order.merchant, "orderReference": order.order_ref, "amount": json_amount(amount),
        "currency": currency, "authCode": f"{order.payment_id % 1000000:06d}" if approved else "", "email": "",
        "phone": "", "createdDate": int(time.time()), "processingDate": int(time.time()),
        "cardPan": "42****4242" if approved else "", "cardType": "Visa" if approved else "",
        "issuerBankCountry": "Ukraine", "issuerBankName": "Sandbox bank", "recToken": "",
        "transactionStatus": status, "reason": reason, "reasonCode": code, "fee": 0, "paymentSystem": "card",
    }
    signed = [amount_text(amount) if k == "amount" else message[k] for k in WFP_CALLBACK_FIELDS]
    message["merchantSignature"] = wfp_signature(state.wayforpay_secrets[order.merchant], signed)
    return message


def _liqpay_request(state: State, order: Order, status: str, knobs: Knobs) -> tuple[bytes, str]:
    amount, currency = money_of(order, knobs)
    data = liqpay_data(liqpay_payload(order, status, amount, currency))
    signature = liqpay_signature(state.liqpay_keys[order.merchant], data, order.version)
    if knobs.tamper_signature:
        signature = _tamper(signature)
    return urlencode({"data": data, "signature": signature}).encode("ascii"), "application/x-www-form-urlencoded"


def _wfp_request(state: State, order: Order, status: str, knobs: Knobs) -> tuple[bytes, str]:
    amount, currency = money_of(order, knobs)
    message = wfp_message(state, order, status, amount, currency)
    if knobs.tamper_signature:
        message["merchantSignature"] = _tamper(message["merchantSignature"])
    # Raw JSON under a form content type, as WayForPay really posts it (spec/payments.md §2.5).
    return json.dumps(message, ensure_ascii=False).encode("utf-8"), "application/x-www-form-urlencoded"


def _accepted(state: State, order: Order, response: requests.Response) -> bool:
    if order.provider == "liqpay":
        return response.status_code == 200
    try:
        answer = response.json()
    except ValueError:
        return False
    secret = state.wayforpay_secrets[order.merchant]
    return (isinstance(answer, dict) and answer.get("status") == "accept"
            and answer.get("orderReference") == order.order_ref
            and wfp_valid(secret, [order.order_ref, "accept", answer.get("time")], answer.get("signature")))


def deliver(state: State, order: Order, status: str) -> list[Delivery]:
    """Move the order to ``status`` and POST its callback to the merchant (as often as the knobs say)."""
    knobs = state.knobs_for(order)
    with state.lock:
        order.status = status
        if order.paid_amount is None and status in ("success", "Approved"):
            order.paid_amount, order.paid_currency = money_of(order, knobs)
    if not order.callback_url or not knobs.send_callbacks:
        return []
    build = _liqpay_request if order.provider == "liqpay" else _wfp_request
    body, content_type = build(state, order, status, knobs)
    sent = []
    for _ in range(max(1, knobs.callback_times)):
        try:
            response = requests.post(order.callback_url, data=body, headers={"Content-Type": content_type},
                                     timeout=10)
            delivery = Delivery(status, response.status_code, response.text[:500], _accepted(state, order, response))
        except requests.RequestException as exc:
            delivery = Delivery(status, None, "", False, type(exc).__name__)
        sent.append(delivery)
    with state.lock:
        order.deliveries.extend(sent)
    return sent
