"""The settings page: the tenant file as loaded (secrets never shown: variables are named with whether
they are set), the checks ``salonbridge check`` runs, the addresses to paste into the booking system,
amoCRM and the payment providers, the amoCRM connect link, and the onboarding steps."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import render_template

from bridge.amocrm.connect import ConnectError, connection_status, consent_url, redirect_uri
from config.tenants import Tenant, TenantFileError, read_yaml
from webhooks.context import current_services
from webhooks.dashboard.auth import current_user, tenant_page
from webhooks.dashboard.blueprint import bp
from webhooks.dashboard.pages import check_findings

MASK = "•••"
_SECRET_NAME = re.compile(r"(token|secret|password|passwd|private|key)$", re.I)


def config_rows(raw: Any, tenant: Tenant, prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(field path, shown value, kind) for every leaf of the tenant file; kind is "", "env" or "masked"."""
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            yield from _leaf_or_walk(str(key), value, tenant, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            yield from config_rows(value, tenant, f"{prefix}[{i}]")
    else:
        yield prefix, "" if raw is None else str(raw), ""


def _leaf_or_walk(key: str, value: Any, tenant: Tenant, path: str) -> Iterator[tuple[str, str, str]]:
    if isinstance(value, Mapping | list):
        yield from config_rows(value, tenant, path)
    elif key.endswith("_env") and isinstance(value, str):
        yield path, value, "env-set" if tenant.secret(value) else "env-unset"
    elif _SECRET_NAME.search(key):
        yield path, MASK, "masked"
    else:
        yield path, "" if value is None else str(value), ""


def _masked(url: str, secret: str) -> str:
    return url.replace(secret, MASK) if secret else url


def addresses(tenant: Tenant) -> list[dict[str, str]]:
    """What to paste where: each with its label key, the address (full only for admins) and what is missing."""
    base = current_services().settings.public_url.rstrip("/")
    admin = current_user().is_admin
    out = []
    token_env = tenant.booking.webhook_token_env
    token = tenant.secret(token_env) or ""
    url = f"{base}/hooks/{tenant.slug}/{tenant.booking.kind}/{token or MASK}"
    out.append({"label": "url_booking", "arg": tenant.booking.kind, "url": url if admin else _masked(url, token),
                "missing": "" if token else f"${token_env}"})
    amo_env = tenant.amocrm.webhook_token_env
    amo_token = tenant.secret(amo_env) or ""
    url = f"{base}/hooks/{tenant.slug}/amocrm/{amo_token or MASK}"
    out.append({"label": "url_amocrm", "arg": "", "url": url if admin else _masked(url, amo_token),
                "missing": "" if amo_token else (f"${amo_env}" if amo_env else "amocrm.webhook_token_env")})
    config = tenant.prepayment
    for provider in ("liqpay", "wayforpay"):
        if config is not None and config.provider_settings(provider) is not None:
            out.append({"label": "url_payments", "arg": provider, "url": f"{base}/hooks/{tenant.slug}/pay/{provider}",
                        "missing": ""})
    return out


@bp.get("/t/<slug>/settings")
@tenant_page
def settings(tenant: Tenant):
    svc = current_services()
    try:
        raw = read_yaml(tenant.path) if tenant.path else {}
    except TenantFileError:
        raw = {}
    problems, notes = check_findings(tenant, svc, datetime.now(UTC))
    status = connection_status(tenant, svc, probe=False)
    try:
        connect, connect_problem = consent_url(tenant, svc.settings), ""
    except ConnectError as exc:
        connect, connect_problem = "", str(exc)
    return render_template(
        "dash_settings.html", rows=list(config_rows(raw, tenant)), problems=problems, notes=notes,
        addresses=addresses(tenant), status=status, connect=connect, connect_problem=connect_problem,
        redirect=redirect_uri(tenant.slug, svc.settings),
    )
