"""Flask application factory (gunicorn: ``webhooks.app:create_app()``)."""

from __future__ import annotations

from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from bridge.services import Services
from config.logging import configure_logging
from config.settings import Settings
from webhooks import dashboard
from webhooks.context import install


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the web app; entry points pass Settings, gunicorn gets them from the environment."""
    settings = settings or (services.settings if services else Settings.from_env())
    configure_logging(settings)
    services = services or Services.build(settings, first_in_line=True)  # the webhook's insert goes first
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes)
    # A path with "//" would get a 308 to the merged path, and that Location header (logged by proxies
    # and clients) carries the hook's token: such a path is simply not found.
    app.url_map.merge_slashes = False
    install(app, services)

    @app.before_request
    def refuse_long_streams():
        """A chunked body has no Content-Length for Werkzeug to check: it stops reading at the limit and
        the cut body would be parsed. Read it here, capped, and answer 413 when the cap was reached."""
        streamed = request.content_length is None and request.method in ("POST", "PUT", "PATCH")
        if streamed and len(request.get_data(cache=True)) >= settings.max_body_bytes:
            abort(413, f"the body is larger than {settings.max_body_bytes} bytes")

    from webhooks import (
        amocrm_hooks,
        client_page,
        clients_api,
        health,
        hooks,
        metrics,
        oauth,
        openapi,
        payment_hooks,
        prepayments_api,
        reconnect_api,
    )

    app.register_blueprint(amocrm_hooks.bp)  # before the generic booking route it would otherwise match
    app.register_blueprint(payment_hooks.bp)  # likewise
    payment_hooks.install(app, services)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(openapi.docs_blueprint())
    app.register_blueprint(oauth.bp)
    app.register_blueprint(client_page.bp)
    app.register_blueprint(reconnect_api.bp)
    app.register_blueprint(clients_api.bp)
    app.register_blueprint(prepayments_api.bp)
    dashboard.install(app, settings.public_url)

    @app.errorhandler(HTTPException)
    def json_errors(exc: HTTPException):  # every error is JSON with a reason, never an HTML page
        return jsonify(error=exc.name.lower(), reason=exc.description), exc.code

    return app
