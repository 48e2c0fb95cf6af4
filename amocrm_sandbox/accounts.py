"""Several emulated amoCRM accounts behind one server.

amoCRM gives every account its own host (``{subdomain}.amocrm.ru``); a local server has one host, so
the first account answers at ``/`` and every added one under ``/a/<subdomain>`` — its base URL, the one a
tenant file or a client is given, is ``http://HOST:PORT/a/<subdomain>``. Each account is a whole sandbox:
its own data, tokens, limiter, faults, journal and webhooks, and its own ``/_sandbox`` controls.

Accounts are added from Python (``SandboxServer.add``) or over HTTP: ``POST /_sandbox/accounts`` with
``{"subdomain": "salon2", "options": {…SandboxOptions…}, "faults": {…Faults…}}`` answers the new
account's ``base_url``; ``GET /_sandbox/accounts`` lists them; ``DELETE /_sandbox/accounts/<subdomain>``
drops one. Added accounts live in memory only.

Tests serve one ``SandboxServer`` per module and add a fresh account per test: starting and stopping a
server costs about half a second, an account a few milliseconds.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from amocrm_sandbox.app import create_sandbox_app
from amocrm_sandbox.faults import Faults, checked_fields
from amocrm_sandbox.jsonio import PLAIN, json_response
from amocrm_sandbox.options import SandboxOptions
from amocrm_sandbox.problems import problem
from amocrm_sandbox.runtime import EXTENSION, Runtime

PREFIX = "/a/"
_SUBDOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class SandboxServer:
    """A WSGI app: the default account at ``/`` (optional), added accounts under ``/a/<subdomain>``."""

    def __init__(self, default: Flask | None = None):
        self._lock = threading.Lock()
        self.accounts: dict[str, Flask] = {}
        control = Flask(__name__)
        control.add_url_rule("/", "accounts", self._http_accounts, methods=["GET", "POST"], strict_slashes=False)
        control.add_url_rule("/<subdomain>", "account", self._http_drop, methods=["DELETE"])
        self._dispatch = DispatcherMiddleware(default or _no_default, {"/_sandbox/accounts": control})

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self._dispatch(environ, start_response)

    def add(self, subdomain: str | None = None, state_path: Path | None = None, **app_options: Any) -> Flask:
        """A new account (``app_options`` go to ``create_sandbox_app``); its subdomain defaults to a fresh
        one. The account's URL is ``<server URL>/a/<subdomain>``."""
        subdomain = subdomain or f"acc{uuid.uuid4().hex[:10]}"
        if not _SUBDOMAIN.fullmatch(subdomain):
            raise ValueError(f"subdomain {subdomain!r}: lowercase letters, digits and dashes")
        options = replace(app_options.pop("options", None) or SandboxOptions(), subdomain=subdomain)
        options = replace(options, requests_per_second=app_options.pop("requests_per_second",
                                                                       options.requests_per_second),
                          block_after_429s=app_options.pop("block_after_429s", options.block_after_429s))
        app = create_sandbox_app(state_path, requests_per_second=options.requests_per_second,
                                 block_after_429s=options.block_after_429s, options=options, **app_options)
        with self._lock:
            if subdomain in self.accounts:
                raise ValueError(f"subdomain {subdomain!r} is taken")
            self.accounts[subdomain] = app
            self._dispatch.mounts[PREFIX + subdomain] = app
        return app

    def drop(self, subdomain: str) -> bool:
        with self._lock:
            self._dispatch.mounts.pop(PREFIX + subdomain, None)
            return self.accounts.pop(subdomain, None) is not None

    def runtime(self, subdomain: str) -> Runtime:
        """The account's collaborators (journal, faults, echoes…), for in-process tests."""
        return self.accounts[subdomain].extensions[EXTENSION]

    # -- over HTTP ---------------------------------------------------------------------------------

    def _http_accounts(self) -> Response:
        root = request.host_url.rstrip("/")
        if request.method == "GET":
            return json_response({"accounts": [{"subdomain": s, "base_url": f"{root}{PREFIX}{s}"}
                                               for s in sorted(self.accounts)]}, mimetype=PLAIN)
        body = request.get_json(silent=True, force=True) if request.get_data() else {}
        if not isinstance(body, dict):
            return problem(400, "the body is a JSON object: {subdomain?, options?, faults?}")
        try:
            options = _options(body.get("options") or {})
            faults = Faults.from_dict(body.get("faults") or {})
            subdomain = body.get("subdomain")
            if subdomain is not None and not isinstance(subdomain, str):
                raise ValueError("subdomain: a string")
            app = self.add(subdomain, options=options, faults=faults)
        except (TypeError, ValueError) as exc:
            return problem(400, str(exc))
        made = app.extensions[EXTENSION].options.subdomain
        return json_response({"subdomain": made, "base_url": f"{root}{PREFIX}{made}"}, 201, PLAIN)

    def _http_drop(self, subdomain: str) -> Response:
        if not self.drop(subdomain):
            return problem(404, f"no account {subdomain!r}")
        return Response(status=204)


def _options(raw: Any) -> SandboxOptions:
    if not isinstance(raw, dict):
        raise ValueError("options: an object of SandboxOptions fields")
    return SandboxOptions(**checked_fields(SandboxOptions, raw, "options"))


def _no_default(environ: dict[str, Any], start_response: Any) -> Any:
    body = b'{"title":"Not Found","status":404,"detail":"no account here: use /a/<subdomain>"}'
    start_response("404 Not Found", [("Content-Type", "application/problem+json"),
                                     ("Content-Length", str(len(body)))])
    return [body]
