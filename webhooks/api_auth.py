"""Bearer-token access to a tenant's JSON API (``/api/tenants/<slug>/...``).

The token lives in the environment variable the tenant file names in ``api_token_env``; requests carry
``Authorization: Bearer <token>``. An unknown tenant, a tenant without an API token, a missing or wrong
token: all the same 404 with no hint which, as for the booking webhooks, so the API reveals neither
which salons exist nor which tokens are close.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import abort, request

from config.tenants import Tenant
from webhooks.context import current_services

NOT_FOUND = "no such resource"


def authorized_tenant(slug: str) -> Tenant | None:
    """The tenant whose API token the request carries, else None."""
    tenant = current_services().tenants.get(slug)
    expected = tenant.secret(tenant.api_token_env) if tenant else None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(expected.encode(), token.strip().encode()):
        return None
    return tenant


def tenant_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a view taking ``slug``: it is called with ``tenant`` instead, or the answer is a 404."""

    @functools.wraps(view)
    def wrapper(slug: str, **kwargs: Any) -> Any:
        tenant = authorized_tenant(slug)
        if tenant is None:
            abort(404, NOT_FOUND)
        return view(tenant=tenant, **kwargs)

    return wrapper
