"""``/_sandbox/...``: what tests and the demo use to look inside and to steer the fake providers."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from payment_sandbox.callbacks import deliver
from payment_sandbox.checkout import settle
from payment_sandbox.runtime import state
from payment_sandbox.state import Knobs, Order

bp = Blueprint("fake_control", __name__, url_prefix="/_sandbox")
REFUNDED = {"liqpay": "reversed", "wayforpay": "Refunded"}
PAID = {"success", "Approved"}


def _order(provider: str, ref: str) -> Order:
    order = state().find(provider, ref)
    if order is None:
        abort(404)
    return order


@bp.get("/orders")
def orders():
    with state().lock:
        return jsonify([o.to_json() for o in state().orders.values()])


@bp.get("/orders/<provider>/<ref>")
def order(provider: str, ref: str):
    return jsonify(_order(provider, ref).to_json())


@bp.post("/orders/<provider>/<ref>/<action>")
def act(provider: str, ref: str, action: str):
    """``pay`` / ``decline`` (as the buttons), ``refund`` (a refund or reversal later), ``resend`` (the last
    callback again, e.g. a replay after a refund)."""
    found = _order(provider, ref)
    if action in ("pay", "decline"):
        done, why = settle(found, "paid" if action == "pay" else "declined")
        if not done:
            return jsonify(error=why), 409
    elif action == "refund":
        if found.status not in PAID:
            return jsonify(error=f"payment is {found.status}"), 409
        deliver(state(), found, REFUNDED[provider])
    elif action == "resend":
        status = request.get_json(silent=True, force=True) or {}
        deliver(state(), found, status.get("status") or found.status)
    else:
        abort(404)
    return jsonify(found.to_json())


@bp.post("/knobs")
def knobs():
    """JSON knobs (see ``Knobs``); with ``"order": [provider, ref]`` they apply to that order only."""
    values = dict(request.get_json(force=True) or {})
    target = values.pop("order", None)
    with state().lock:
        if target:
            found = _order(*target)
            found.knobs = found.knobs or Knobs()
            holder = found.knobs
        else:
            holder = state().knobs
        try:
            holder.update(values)
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
    return jsonify(holder.__dict__)


@bp.post("/merchants")
def merchants():
    """Add a merchant: ``{"liqpay": {public: private}}`` and/or ``{"wayforpay": {account: secret}}``."""
    values = request.get_json(force=True) or {}
    with state().lock:
        state().liqpay_keys.update(values.get("liqpay") or {})
        state().wayforpay_secrets.update(values.get("wayforpay") or {})
    return jsonify(liqpay=sorted(state().liqpay_keys), wayforpay=sorted(state().wayforpay_secrets))


@bp.post("/reset")
def reset():
    state().reset()
    return jsonify(status="reset")
