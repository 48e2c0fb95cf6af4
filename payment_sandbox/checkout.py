"""The page the client lands on: the order, a "Pay" and a "Decline" button (what a browser test clicks)."""

from __future__ import annotations

import time

from flask import Blueprint, abort, redirect, render_template

from payment_sandbox.callbacks import deliver
from payment_sandbox.runtime import state
from payment_sandbox.state import Order

bp = Blueprint("fake_checkout", __name__)
WORDS = {  # the provider's own status words
    "liqpay": {"paid": "success", "declined": "failure"},
    "wayforpay": {"paid": "Approved", "declined": "Declined"},
}
PAYABLE = {"created", "failure", "Declined"}  # a declined card may be retried while the link lives


def _order(provider: str, merchant: str, ref: str) -> Order:
    order = state().find(provider, ref, merchant)
    if order is None:
        abort(404)
    return order


def _expired(order: Order) -> bool:
    return order.expires_at is not None and time.time() > order.expires_at


def settle(order: Order, outcome: str) -> tuple[bool, str]:
    """Pay or decline the order as the client would; (done, why not)."""
    if order.status not in PAYABLE:
        return False, f"this payment is already {order.status}"
    if _expired(order):
        return False, "this payment link has expired"
    deliver(state(), order, WORDS[order.provider][outcome])
    return True, ""


@bp.get("/checkout/<provider>/<merchant>/<ref>")
def page(provider: str, merchant: str, ref: str):
    order = _order(provider, merchant, ref)
    closed = "" if order.status in PAYABLE and not _expired(order) else (
        "expired" if _expired(order) else order.status)
    return render_template("checkout.html", order=order, closed=closed,
                           title={"liqpay": "LiqPay", "wayforpay": "WayForPay"}[provider])


@bp.post("/checkout/<provider>/<merchant>/<ref>/<outcome>")
def press(provider: str, merchant: str, ref: str, outcome: str):
    if outcome not in ("paid", "declined"):
        abort(404)
    order = _order(provider, merchant, ref)
    done, why = settle(order, outcome)
    if not done:
        return render_template("checkout.html", order=order, closed=why, title=provider), 409
    if order.result_url:
        return redirect(order.result_url, code=303)
    return render_template("checkout.html", order=order, closed=order.status, title=provider)
