"""gunicorn settings: sync workers, a timeout well under the senders' 15 s delivery deadline."""

from config.settings import Settings

_settings = Settings.from_env()
bind = _settings.web_bind
workers = _settings.web_workers
timeout = 10
graceful_timeout = 10
accesslog = "-" if _settings.access_log else None
