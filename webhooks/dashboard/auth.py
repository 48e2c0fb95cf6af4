"""Sign-in, sign-out, the language choice, and the guards every page goes through.

- A page of tenant ``slug`` needs a signed-in user who may see it; anyone else gets the same 404 as for
  a tenant that does not exist (a manager learns nothing about other salons).
- Failed sign-ins are counted in Redis per client address and user name: after ``MAX_FAILURES`` within
  ``WINDOW_S`` that pair is refused (429) until the window passes, whatever the password. If Redis is
  unreachable, sign-in is refused rather than left unlimited.
- The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure on https); it is cleared at
  sign-in (no fixation) and at sign-out. Every POST carries Flask-WTF's CSRF token.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import abort, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError

from bridge.store import users
from config.tenants import Tenant
from webhooks.context import current_services
from webhooks.dashboard.blueprint import bp
from webhooks.dashboard.i18n import LANGUAGES, choose_language, translator
from webhooks.dashboard.nav import TENANT_PAGES

log = logging.getLogger(__name__)
MAX_FAILURES = 5
WINDOW_S = 15 * 60
_KEY = "salonbridge:login-failures:"


def current_user() -> users.User | None:
    if "user" not in g:
        uid = session.get("uid")
        user = users.get(current_services().store, uid) if isinstance(uid, int) else None
        g.user = user if user is not None and session.get("stamp") == user.stamp else None
    return g.user


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def tenant_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view taking ``slug``: called with ``tenant`` instead; signed-out users go to sign-in, a tenant
    the user may not see (or that does not exist) is a 404."""

    @functools.wraps(view)
    @login_required
    def wrapper(slug: str, **kwargs: Any) -> Any:
        tenant = current_services().tenants.get(slug)
        if tenant is None or not current_user().may_see(slug):
            abort(404)
        g.tenant = tenant
        return view(tenant=tenant, **kwargs)

    return wrapper


def visible_tenants() -> list[Tenant]:
    user, tenants = current_user(), current_services().tenants
    return [t for slug, t in sorted(tenants.items()) if user is not None and user.may_see(slug)]


@bp.before_request
def _protect_forms() -> None:
    if request.method == "POST":
        from webhooks.dashboard import csrf

        csrf.protect()  # a missing or wrong token raises CSRFError: 400


@bp.after_request
def _headers(response):
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    return response


@bp.errorhandler(404)
def _not_found(_exc):
    return render_template("dash_error.html", title_key="not_found", text_key="not_found_text"), 404


@bp.errorhandler(CSRFError)
def _csrf_refused(_exc):
    return render_template("dash_error.html", title_key="csrf_title", text_key="csrf_text"), 400


def _limit_key(user_name: str) -> str:
    who = f"{request.remote_addr}|{users.normalize_username(user_name)}"
    return _KEY + hashlib.sha256(who.encode()).hexdigest()[:32]


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or ``https://host``) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("dashboard.home")
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else url_for("dashboard.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user() is not None:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("dash_login.html", error=None, next=request.args.get("next", ""))
    name = request.form.get("username", "")[:64]
    password = request.form.get("password", "")[:1024]
    target = request.form.get("next", "")
    redis = current_services().queue.connection
    key = _limit_key(name)
    try:
        failures = int(redis.get(key) or 0)
    except RedisError:
        log.error("sign-in refused: the rate limiter (Redis) is unreachable")
        return render_template("dash_login.html", error="login_unavailable", next=target), 503
    if failures >= MAX_FAILURES:
        log.warning("sign-in rate limit reached for one address and name")
        return render_template("dash_login.html", error="login_limited", next=target), 429
    user = users.authenticate(current_services().store, name, password, datetime.now(UTC))
    if user is None:
        try:
            with redis.pipeline() as pipe:
                pipe.set(key, 0, ex=WINDOW_S, nx=True)  # the window starts at the first failure
                pipe.incr(key)  # (INCR keeps the expiry)
                pipe.execute()
        except RedisError:
            log.error("a failed sign-in could not be counted (Redis unreachable)")
        return render_template("dash_login.html", error="login_failed", next=target), 401
    with contextlib.suppress(RedisError):
        redis.delete(key)
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["stamp"] = user.stamp  # a password change signs out every session of the user
    if user.language:
        session["lang"] = user.language
    log.info("dashboard sign-in: user %s", user.id)
    return redirect(_safe_next(target))


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("dashboard.login"))


@bp.post("/language")
@login_required
def language():
    chosen = request.form.get("language") or None
    if chosen not in (*users.LANGUAGES, None):
        abort(400)
    users.set_language(current_services().store, current_user().id, chosen)
    if chosen:
        session["lang"] = chosen
    else:
        session.pop("lang", None)
    return redirect(_safe_next(request.form.get("next")))


@bp.app_context_processor
def _context() -> dict[str, Any]:
    if request.blueprint != "dashboard":
        return {}
    tenant = g.get("tenant")
    user = current_user() if "uid" in session else None
    lang = page_language()
    zone = tenant.timezone if tenant else UTC

    def when(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return at.astimezone(zone).strftime(fmt) if at else "—"

    return {"user": user, "tenant": tenant, "lang": lang, "t": translator(lang), "when": when,
            "languages": LANGUAGES, "nav": TENANT_PAGES, "visible_tenants": visible_tenants}


def page_language() -> str:
    """The user's choice, else the salon's language (of the page's tenant, or the manager's own), else English."""
    tenant = g.get("tenant")
    user = current_user() if "uid" in session else None
    return choose_language(session.get("lang"), user.language if user else None,
                           tenant.language if tenant else _own_language(user))


def _own_language(user: users.User | None) -> str | None:
    if user is None or user.tenant is None:
        return None
    own = current_services().tenants.get(user.tenant)
    return own.language if own else None
