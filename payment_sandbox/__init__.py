"""Fake LiqPay and WayForPay for tests and demos: checkout pages with "Pay" and "Decline", signed
server-to-server callbacks by real HTTP POST, the status and refund APIs, and knobs that make callbacks
misbehave (duplicates, tampered signatures, wrong amounts, refunds later).

It imports nothing of salonbridge (import-linter checks it), so a mistake in salonbridge's signing
cannot be mirrored here. LiqPay lives under ``/api/3/checkout`` and ``/api/request``; WayForPay under
``/pay`` and ``/api``; both checkout pages under ``/checkout/...``; test controls under ``/_sandbox``.
"""

from payment_sandbox.app import create_sandbox_app
from payment_sandbox.server import running, serve

__all__ = ["create_sandbox_app", "running", "serve"]
