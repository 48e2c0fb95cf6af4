"""The fake providers' memory: merchants, orders and the knobs tests turn (one lock, in memory)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any


@dataclass
class Knobs:
    """How the next callbacks misbehave (global, or for one order)."""

    callback_times: int = 1  # deliver each callback this many times (duplicates)
    tamper_signature: bool = False  # flip a character of the signature
    pay_amount: str | None = None  # report this amount as paid instead of the order's
    pay_currency: str | None = None  # report this currency instead of the order's
    send_callbacks: bool = True  # False: the provider never calls back (only the status query knows)

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}")
        for name, value in values.items():
            setattr(self, name, value)


@dataclass
class Delivery:
    """One callback POSTed to the merchant's URL, and what came back."""

    status: str
    http_status: int | None
    answer: str
    accepted: bool  # LiqPay: HTTP 200; WayForPay: a correctly signed accept
    error: str | None = None


@dataclass
class Order:
    provider: str  # "liqpay" | "wayforpay"
    merchant: str  # LiqPay public key or WayForPay merchant account
    order_ref: str
    amount: Decimal
    currency: str
    description: str
    callback_url: str | None
    result_url: str | None = None
    expires_at: float | None = None  # unix time; after it the page refuses payment
    version: int = 3  # LiqPay API version (signature digest)
    status: str = "created"  # the provider's own word
    payment_id: int = 0
    paid_amount: Decimal | None = None
    paid_currency: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    knobs: Knobs | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["amount"] = str(self.amount)
        data["paid_amount"] = str(self.paid_amount) if self.paid_amount is not None else None
        return data


class State:
    def __init__(self, liqpay: dict[str, str], wayforpay: dict[str, str]) -> None:
        self.lock = threading.RLock()
        self.liqpay_keys = dict(liqpay)  # public key -> private key
        self.wayforpay_secrets = dict(wayforpay)  # merchant account -> secret key
        self.orders: dict[tuple[str, str, str], Order] = {}
        self.knobs = Knobs()
        self._ids = itertools.count(1000001)

    def next_payment_id(self) -> int:
        return next(self._ids)

    def find(self, provider: str, order_ref: str, merchant: str | None = None) -> Order | None:
        with self.lock:
            for (p, m, ref), order in self.orders.items():
                if p == provider and ref == order_ref and (merchant is None or m == merchant):
                    return order
            return None

    def add(self, order: Order) -> None:
        with self.lock:
            self.orders[(order.provider, order.merchant, order.order_ref)] = order

    def knobs_for(self, order: Order) -> Knobs:
        return order.knobs or self.knobs

    def reset(self) -> None:
        with self.lock:
            self.orders.clear()
            self.knobs = Knobs()
