"""The dashboard: server-rendered pages for salon managers (their salon) and agency admins (every salon).

``install(app, services)`` (called by ``create_app``) sets the session cookie up, turns on CSRF checks
for the dashboard's forms and registers the blueprint. Pages of a tenant live under ``/t/<slug>/``
behind ``tenant_page`` (login, then 404 for a tenant the user may not see) and appear in the menu
through ``nav.TENANT_PAGES``: adding a page is a view module importing ``bp`` plus one ``nav`` line
(see docs/dashboard.md).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from webhooks.dashboard.blueprint import bp

csrf = CSRFProtect()
SESSION_HOURS = 12


def install(app: Flask, public_url: str) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="salonbridge_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public_url.startswith("https://"),  # a plain-http install (local) could not sign in
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_CHECK_DEFAULT=False,  # only the dashboard's forms: webhooks and callbacks carry no session
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
        WTF_CSRF_SSL_STRICT=public_url.startswith("https://"),
    )
    csrf.init_app(app)
    from webhooks.dashboard import auth, campaigns, client_reports, clients, pages, playbook, reports, settings  # noqa: F401 (views on bp)

    app.register_blueprint(bp)
