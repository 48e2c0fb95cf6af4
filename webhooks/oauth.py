"""``GET /oauth/<tenant>/callback``: where amoCRM sends the account admin after "Allow".

The state must be ours (HMAC), for this tenant and unexpired, else 403 — that is what stops someone
from attaching their own amoCRM account to a salon by sending its admin a crafted link. The answer is
a small HTML page, because a person is looking at it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from markupsafe import escape

from bridge.amocrm.connect import ConnectError, complete_authorization, state_is_well_formed, verify_state
from bridge.amocrm.errors import AmoError, InvalidGrant, TokenEndpointError
from bridge.services import Services
from webhooks.context import current_services

bp = Blueprint("oauth", __name__)
log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · salonbridge</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#1f2d3d}}
h1{{font-size:1.4em}} .ok{{color:#2e7d32}} .bad{{color:#c62828}}</style></head>
<body><h1 class="{css}">{title}</h1><p>{message}</p></body></html>
"""


def _page(status: int, title: str, message: str) -> Response:
    css = "ok" if status < 400 else "bad"
    body = _PAGE.format(title=escape(title), message=escape(message), css=css)
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the URL carried a one-time code
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/oauth/<tenant>/callback")
def callback(tenant: str) -> Response:
    services: Services = current_services()
    found = services.tenants.get(tenant)
    if found is None:
        return _page(404, "Unknown salon", "This address does not belong to any salon configured here.")
    state = request.args.get("state", "")
    if state and not state_is_well_formed(state):  # garbage, not an expired or foreign link: 400
        return _page(400, "Link invalid",
                     f"This is not a link salonbridge made. Run `salonbridge amocrm connect {tenant}` and open "
                     "the new link.")
    if not verify_state(services.settings.secret_key, tenant, state):
        log.warning("OAuth callback for %s with a bad or expired state", tenant)
        return _page(403, "Link expired or invalid",
                     f"Run `salonbridge amocrm connect {tenant}` again and open the new link.")
    if request.args.get("error"):
        return _page(400, "Not connected", "Access was refused in amoCRM; nothing was changed.")
    code = request.args.get("code", "")
    if not code:
        return _page(400, "Not connected", "amoCRM sent no authorization code.")
    try:
        complete_authorization(found, services, code, request.args.get("referer"))
    except ConnectError as exc:
        return _page(400, "Not connected", str(exc))
    except InvalidGrant as exc:
        return _page(400, "Not connected", f"amoCRM refused the code ({exc.hint}). Start again from the link.")
    except TokenEndpointError:
        return _page(502, "Not connected", "amoCRM did not answer; try the link again in a minute.")
    except AmoError as exc:  # e.g. the token key is unusable
        log.error("OAuth callback for %s failed: %s", tenant, exc)
        return _page(500, "Not connected", "The tokens could not be stored; see the server log.")
    return _page(200, "Connected",
                 f"{found.name} is now connected to amoCRM. You can close this page; "
                 f"next run `salonbridge setup {tenant}`.")
