"""Payment providers (LiqPay, WayForPay): our own small adapters, no SDK (spec/payments.md §3 says why).

``provider_for(tenant)`` gives the tenant's adapter; ``callbacks.receive`` is what the webhook endpoint
runs for a provider's server-to-server callback.
"""

from bridge.payments.base import (
    CallbackError,
    CheckoutOrder,
    HttpAnswer,
    NotConfigured,
    NotOurs,
    PaymentError,
    PaymentProvider,
    ProviderError,
    SignatureError,
)
from bridge.payments.registry import PROVIDERS, provider_for

__all__ = [
    "PROVIDERS", "CallbackError", "CheckoutOrder", "HttpAnswer", "NotConfigured", "NotOurs", "PaymentError",
    "PaymentProvider", "ProviderError", "SignatureError", "provider_for",
]
