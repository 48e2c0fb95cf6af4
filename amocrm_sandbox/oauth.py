"""The OAuth endpoints on the account host (§2): consent, token exchange/refresh, subdomain lookup."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request

from amocrm_sandbox.jsonio import PLAIN, json_response
from amocrm_sandbox.problems import ApiError
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.tokens import OAuthError

bp = Blueprint("sandbox_oauth", __name__)


@bp.get("/oauth")
def consent() -> Response:
    """The consent screen, auto-approved: redirects to the integration's redirect_uri with a fresh code,
    ``referer`` = this host and the caller's ``state``, as amoCRM does after "Allow" (§2.1)."""
    runtime = rt()
    if request.args.get("client_id") != runtime.options.client_id:
        raise ApiError(400, "Unknown client_id")
    query = {"code": runtime.tokens.issue_code(), "state": request.args.get("state", ""),
             "referer": request.host, "client_id": runtime.options.client_id}
    return redirect(f"{runtime.options.redirect_uri}?{urlencode(query)}", code=302)


@bp.post("/oauth2/access_token")
def access_token() -> Response:
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(body, dict):
        return json_response(OAuthError(400, "Request body must be a JSON object").body(), 400, PLAIN)
    try:
        pair = rt().tokens.grant(body, api_domain=request.host)
    except OAuthError as exc:
        return json_response(exc.body(), exc.status, PLAIN)
    return json_response(pair, 200, PLAIN)


@bp.get("/oauth2/account/current/subdomain")
def current_subdomain() -> Response:
    """Where the account lives now (§2.9); authorized by a live refresh token in ``X-Refresh-Token``."""
    runtime = rt()
    if not runtime.tokens.refresh_token_is_live(request.headers.get("X-Refresh-Token", "")):
        raise ApiError(401, "Invalid user name or password")
    with runtime.store.read() as data:
        account = data["account"]
        return json_response({"id": account["id"], "subdomain": account["subdomain"], "domain": request.host,
                              "top_level_domain": request.host.rsplit(".", 1)[-1].split(":")[0]}, 200, PLAIN)
