"""gunicorn settings: sync workers, a timeout well under the senders' 15 s delivery deadline."""

import os

bind = os.environ.get("SALONBRIDGE_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 10
graceful_timeout = 10
accesslog = "-" if os.environ.get("SALONBRIDGE_ACCESS_LOG") else None
