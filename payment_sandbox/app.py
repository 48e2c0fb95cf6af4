"""The application factory: a fake LiqPay and a fake WayForPay behind one Flask app."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from payment_sandbox import checkout, control, liqpay, wayforpay
from payment_sandbox.runtime import EXTENSION
from payment_sandbox.state import State


def create_sandbox_app(liqpay_keys: Mapping[str, str] | None = None,
                       wayforpay_secrets: Mapping[str, str] | None = None) -> Flask:
    """``liqpay_keys``: public key -> private key; ``wayforpay_secrets``: merchant account -> secret key.
    More merchants can be added at run time (``POST /_sandbox/merchants``)."""
    app = Flask(__name__, template_folder="templates", static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = State(dict(liqpay_keys or {}), dict(wayforpay_secrets or {}))
    for module in (liqpay, wayforpay, checkout, control):
        app.register_blueprint(module.bp)

    @app.errorhandler(HTTPException)
    def as_json(exc: HTTPException):
        return jsonify(error=exc.name.lower()), exc.code

    return app
