"""Reconnect's "Send" and "Send all", once Reconnect campaigns exist (``bridge.campaigns``: ``preview`` and
``send``, the functions ``salonbridge reconnect send`` and the JSON API call). Until then the Reconnect
page keeps an empty slot where the buttons go.

A press shows what would happen first (how many clients, through which channel, how many already
contacted or unreachable); only the confirmation, a second form with its own CSRF token, sends, and only
if the count and channel it showed still hold (else it shows the new ones and asks again).
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime
from types import ModuleType

from flask import abort, flash, redirect, render_template, request, url_for

from config.tenants import Tenant
from webhooks.context import current_services
from webhooks.dashboard.auth import current_user, tenant_page
from webhooks.dashboard.blueprint import bp

log = logging.getLogger(__name__)
MODULE = "bridge.campaigns"


def campaigns() -> ModuleType | None:
    """The campaign functions when this install has them, else None."""
    try:
        return importlib.import_module(MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != MODULE:
            raise
        return None


@bp.post("/t/<slug>/reconnect/send")
@tenant_page
def reconnect_send(tenant: Tenant):
    module = campaigns()
    if module is None:
        abort(404)
    category = None if request.form.get("all") else (request.form.get("category") or None)
    if category is None and not request.form.get("all"):
        abort(400)
    channel = request.form.get("channel") or None
    if channel is not None and channel not in module.CHANNELS:
        abort(400)
    svc, now = current_services(), datetime.now(UTC)
    try:
        campaign = module.preview(svc.store, tenant, now, category=category, channel=channel)
    except module.UnknownFilter:
        abort(404)
    shown = (request.form.get("shown_channel"), request.form.get("shown_count"))
    if (request.form.get("confirm") != "yes" or not campaign.recipients
            or shown != (campaign.channel, str(len(campaign.recipients)))):  # send only what was shown
        return render_template("dash_reconnect_confirm.html", campaign=campaign, summary=campaign.summary(),
                               category=category, channels=module.CHANNELS)
    sent = module.send(svc.store, campaign, svc.policy(tenant.slug), datetime.now(UTC)).summary()
    log.info("dashboard: user %s sent a Reconnect campaign of %s (%s): %s clients", current_user().id, tenant.slug,
             category or "all", sent.get("contacted"))
    flash(["campaign_sent", {"n": sent.get("contacted", 0), "m": sent.get("messages", 0)}])
    return redirect(url_for("dashboard.reconnect", slug=tenant.slug))
