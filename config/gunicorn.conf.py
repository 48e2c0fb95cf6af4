"""gunicorn settings: sync workers, a timeout well under the senders' 15 s delivery deadline.

Its own log lines (the access log included) go through the same masking as ours: a webhook path's token
or a client page's token is written as ``***``.
"""

from gunicorn.glogging import Logger

from config.logging import masking_filter
from config.settings import Settings

_settings = Settings.from_env()
bind = _settings.web_bind
workers = _settings.web_workers
timeout = 10
graceful_timeout = 10
accesslog = "-" if _settings.access_log else None
control_socket_disable = True  # one per user by default: two installs on a host would share it


class MaskingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(getattr(f, "masks", False) for f in log.filters):
                log.addFilter(masking_filter())


logger_class = MaskingLogger
