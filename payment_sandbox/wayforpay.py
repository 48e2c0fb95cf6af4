"""Fake WayForPay: the Purchase form (``/pay``) and the JSON API (``/api``: CREATE_INVOICE, CHECK_STATUS,
REMOVE_INVOICE, REFUND)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, jsonify, redirect, request, url_for

from payment_sandbox.callbacks import deliver, money_of, wfp_message
from payment_sandbox.runtime import state
from payment_sandbox.signing import wfp_signature, wfp_valid
from payment_sandbox.state import Order

bp = Blueprint("fake_wayforpay", __name__)
PURCHASE = ("merchantAccount", "merchantDomainName", "orderReference", "orderDate", "amount", "currency")


def _answer(reason: str, code: int, **extra: Any):
    return jsonify(reason=reason, reasonCode=code, **extra)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _register(fields: dict[str, Any], names: list[str], counts: list[str], prices: list[str]):
    """Verify a purchase (form or CREATE_INVOICE) and open its order; returns (order, None) or (None, answer)."""
    sandbox = state()
    secret = sandbox.wayforpay_secrets.get(_text(fields.get("merchantAccount")))
    if secret is None:
        return None, _answer("Merchant not found", 1109)
    missing = [k for k in PURCHASE if not _text(fields.get(k))]
    if missing or not names:
        return None, _answer(f"Missing parameters: {', '.join(missing) or 'productName'}", 1115)
    signed = [_text(fields.get(k)) for k in PURCHASE] + names + counts + prices
    if not wfp_valid(secret, signed, fields.get("merchantSignature")):
        return None, _answer("Invalid signature", 1113)
    try:
        amount = Decimal(_text(fields["amount"]))
    except InvalidOperation:
        return None, _answer("Invalid amount", 1130)
    ref = _text(fields["orderReference"])
    with sandbox.lock:
        if sandbox.find("wayforpay", ref, _text(fields["merchantAccount"])) is not None:
            return None, _answer("Duplicate Order ID", 1112)
        timeout = _text(fields.get("orderTimeout"))
        expires = int(_text(fields["orderDate"])) + int(timeout) if timeout.isdigit() else None
        order = Order("wayforpay", _text(fields["merchantAccount"]), ref, amount, _text(fields["currency"]),
                      "; ".join(names), fields.get("serviceUrl"), fields.get("returnUrl"), expires,
                      payment_id=sandbox.next_payment_id())
        sandbox.add(order)
    return order, None


def _page(order: Order) -> str:
    return url_for("fake_checkout.page", provider="wayforpay", merchant=order.merchant, ref=order.order_ref,
                   _external=True)


@bp.post("/pay")
def purchase_form():
    form = request.form
    fields = {k: form.get(k) for k in form if not k.endswith("[]")}
    order, problem = _register(fields, form.getlist("productName[]"), form.getlist("productCount[]"),
                               form.getlist("productPrice[]"))
    if problem:
        return problem
    return redirect(_page(order), code=303)


def _verified_call(body: dict[str, Any], signed: list[str]):
    sandbox = state()
    account = _text(body.get("merchantAccount"))
    secret = sandbox.wayforpay_secrets.get(account)
    if secret is None:
        return None, None, _answer("Merchant not found", 1109)
    if not wfp_valid(secret, [account, *signed], body.get("merchantSignature")):
        return None, None, _answer("Invalid signature", 1113)
    order = sandbox.find("wayforpay", _text(body.get("orderReference")), account)
    if order is None:
        return None, secret, _answer("Order not found", 1127)
    return order, secret, None


@bp.post("/api")
def api():
    try:
        body = json.loads(request.get_data(), parse_int=str, parse_float=str)
    except ValueError:
        return _answer("Invalid JSON", 1109), 400
    kind = body.get("transactionType") if isinstance(body, dict) else None
    if kind == "CREATE_INVOICE":
        lists = [[_text(x) for x in body.get(k) or []] for k in ("productName", "productCount", "productPrice")]
        order, problem = _register(body, *lists)
        if problem:
            return problem
        return _answer("Ok", 1100, invoiceUrl=_page(order), qrCode=_page(order) + "?qr=1")
    if kind in ("CHECK_STATUS", "REMOVE_INVOICE"):
        order, _, problem = _verified_call(body, [_text(body.get("orderReference"))])
        if problem:
            return problem
        if kind == "REMOVE_INVOICE":
            if order.status == "created":
                order.status = "Removed"
            return _answer("Removed", 1100)
        amount, currency = money_of(order, state().knobs_for(order))
        status = order.status if order.status != "created" else "Created"
        return jsonify(wfp_message(state(), order, "Expired" if status == "Removed" else status, amount, currency))
    if kind == "REFUND":
        order, secret, problem = _verified_call(body, [_text(body.get(k)) for k in ("orderReference", "amount",
                                                                                      "currency")])
        if problem:
            return problem
        if order.status != "Approved":
            return _answer(f"Refund of a {order.status} order is not possible", 1109)
        deliver(state(), order, "Refunded")
        signed = [order.merchant, order.order_ref, "Refunded", 1100]
        return jsonify(merchantAccount=order.merchant, orderReference=order.order_ref, transactionStatus="Refunded",
                       reason="Ok", reasonCode=1100, merchantSignature=wfp_signature(secret, signed))
    return _answer(f"Unsupported transactionType {kind!r}", 1109), 400
