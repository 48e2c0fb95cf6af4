"""Serve a WSGI app on a real loopback socket for the duration of a test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def serve(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:<port>``) of ``app`` served by a threaded server."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
