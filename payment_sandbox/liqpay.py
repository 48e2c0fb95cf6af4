"""Fake LiqPay: the hosted checkout (``/api/3/checkout``) and the server API (``/api/request``)."""

from __future__ import annotations

import base64
import binascii
import json
from calendar import timegm
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, jsonify, redirect, request

from payment_sandbox.callbacks import deliver, liqpay_payload, money_of
from payment_sandbox.runtime import state
from payment_sandbox.signing import liqpay_valid
from payment_sandbox.state import Order

bp = Blueprint("fake_liqpay", __name__)
REQUIRED = ("version", "public_key", "action", "amount", "currency", "description", "order_id")


def _error(code: str, description: str, http: int = 200):
    return jsonify(result="error", status="error", err_code=code, err_description=description), http


def _envelope() -> tuple[dict[str, Any] | None, tuple[Any, int] | None]:
    """The decoded, verified ``data`` of a request; or the error answer."""
    values = request.values
    data, signature = values.get("data", ""), values.get("signature", "")
    try:
        params = json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return None, _error("invalid_data", "data is not base64 JSON", 400)
    if not isinstance(params, dict):
        return None, _error("invalid_data", "data is not a JSON object", 400)
    private_key = state().liqpay_keys.get(str(params.get("public_key")))
    try:
        version = int(params.get("version", 0))
    except (TypeError, ValueError):
        version = 0
    if version not in (3, 7):
        return None, _error("invalid_version", "version must be 3 or 7", 400)
    if private_key is None:
        return None, _error("public_key_not_found", "unknown public_key", 403)
    if not liqpay_valid(private_key, data, signature, version):
        return None, _error("invalid_signature", "signature does not verify", 403)
    return params, None


def _expiry(params: dict[str, Any]) -> float | None:
    text = params.get("expired_date")
    if not text:
        return None
    return float(timegm(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timetuple()))  # UTC


@bp.route("/api/3/checkout", methods=["GET", "POST"])
def checkout():
    params, problem = _envelope()
    if problem:
        return problem
    missing = [k for k in REQUIRED if not params.get(k)]
    if missing:
        return _error("missing_params", f"missing: {', '.join(missing)}", 400)
    if params["action"] != "pay":
        return _error("invalid_action", "the sandbox checkout supports action=pay", 400)
    try:
        amount = Decimal(str(params["amount"]))
    except InvalidOperation:
        return _error("invalid_amount", "amount is not a number", 400)
    sandbox = state()
    with sandbox.lock:
        order = sandbox.find("liqpay", params["order_id"], params["public_key"])
        if order is not None and (order.status not in ("created", "failure") or order.amount != amount):
            return _error("order_id_duplicate", "order_id already used", 400)
        if order is None:
            order = Order("liqpay", params["public_key"], params["order_id"], amount, params["currency"],
                          params["description"], params.get("server_url"), params.get("result_url"),
                          _expiry(params), int(params["version"]), payment_id=sandbox.next_payment_id())
            sandbox.add(order)
    return redirect(f"/checkout/liqpay/{order.merchant}/{order.order_ref}", code=303)


@bp.post("/api/request")
def api():
    params, problem = _envelope()
    if problem:
        return problem
    sandbox = state()
    order = sandbox.find("liqpay", str(params.get("order_id")), params["public_key"])
    if order is None or order.status == "created":
        return _error("payment_not_found", "payment not found")
    if params.get("action") == "status":
        amount, currency = money_of(order, sandbox.knobs_for(order))
        return jsonify(result="ok", **liqpay_payload(order, order.status, amount, currency))
    if params.get("action") == "refund":
        if order.status != "success":
            return _error("payment_not_refundable", f"payment is {order.status}")
        deliver(sandbox, order, "reversed")
        return jsonify(result="ok", payment_id=order.payment_id, action="refund", status="reversed")
    return _error("invalid_action", f"action {params.get('action')!r} is not supported by the sandbox", 400)
