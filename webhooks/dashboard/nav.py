"""The tenant menu: one line per page. A new page adds its line here and
its views in its own module under ``webhooks/dashboard/`` (imported by ``install``)."""

from __future__ import annotations

from typing import NamedTuple


class NavItem(NamedTuple):
    endpoint: str  # a view of the dashboard blueprint taking ``slug``
    label: str  # a key of the UI catalog (i18n.TEXTS)


TENANT_PAGES: list[NavItem] = [
    NavItem("dashboard.overview", "nav_overview"),
    NavItem("dashboard.playbook", "nav_playbook"),
    NavItem("dashboard.reconnect", "nav_reconnect"),
    NavItem("dashboard.prepayments", "nav_prepayments"),
    NavItem("dashboard.clients", "nav_clients"),
    NavItem("dashboard.reports", "nav_reports"),
    NavItem("dashboard.settings", "nav_settings"),
]
