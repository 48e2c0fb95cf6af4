"""Every payment provider, declared once: its name, and how its adapter is built from the tenant's
settings and the secrets the environment holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from bridge.payments.base import NotConfigured, PaymentProvider
from bridge.payments.liqpay import LiqPay
from bridge.payments.wayforpay import WayForPay
from config.tenants import Tenant

Secret = Callable[[str], str]


def _secret(tenant: Tenant, env: str) -> str:
    value = tenant.secret(env)
    if not value:
        raise NotConfigured(f"tenant {tenant.slug}: environment variable {env} is not set")
    return value


def _liqpay(settings: Any, secret: Secret, session: requests.Session | None) -> PaymentProvider:
    return LiqPay(settings, secret(settings.public_key_env), secret(settings.private_key_env), session)


def _wayforpay(settings: Any, secret: Secret, session: requests.Session | None) -> PaymentProvider:
    return WayForPay(settings, secret(settings.secret_key_env), session)


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    build: Callable[[Any, Secret, requests.Session | None], PaymentProvider]
    title: str


PROVIDERS: dict[str, ProviderSpec] = {spec.name: spec for spec in (
    ProviderSpec("liqpay", _liqpay, "LiqPay"),
    ProviderSpec("wayforpay", _wayforpay, "WayForPay"),
)}


def provider_for(tenant: Tenant, name: str | None = None, session: requests.Session | None = None) -> PaymentProvider:
    """The tenant's adapter for ``name`` (default: the provider new links use); raises NotConfigured when
    the tenant has no prepayment section, no settings for that provider, or a secret is missing."""
    config = tenant.prepayment
    if config is None:
        raise NotConfigured(f"tenant {tenant.slug} has no prepayment section")
    name = name or config.provider
    spec = PROVIDERS.get(name)
    settings = config.provider_settings(name)
    if spec is None or settings is None:
        raise NotConfigured(f"tenant {tenant.slug} has no {name} settings")
    return spec.build(settings, lambda env: _secret(tenant, env), session)
