"""Flask application factory (gunicorn: ``webhooks.app:create_app()``)."""

from __future__ import annotations

from flask import Flask, jsonify
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
    services = services or Services.build(settings)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes)
    install(app, services)

    from webhooks import amocrm_hooks, client_page, health, hooks, metrics, oauth, openapi, payment_hooks, reconnect_api

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
    dashboard.install(app, settings.public_url)

    @app.errorhandler(HTTPException)
    def json_errors(exc: HTTPException):  # every error is JSON with a reason, never an HTML page
        return jsonify(error=exc.name.lower(), reason=exc.description), exc.code

    return app
