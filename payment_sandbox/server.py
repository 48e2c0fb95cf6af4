"""Run the sandbox: in a background thread for tests (``running``) or in the foreground (``serve``)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server

from payment_sandbox.app import create_sandbox_app


class _QuietHandler(WSGIRequestHandler):
    """No access log: in-process (the demo, tests) the lines would land in the user's terminal."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def running(liqpay_keys: Mapping[str, str] | None = None, wayforpay_secrets: Mapping[str, str] | None = None,
            host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a fresh sandbox on a real socket; yields its base URL (``http://127.0.0.1:<port>``)."""
    server = make_server(host, port, create_sandbox_app(liqpay_keys, wayforpay_secrets), threaded=True,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def serve(host: str, port: int, liqpay_keys: Mapping[str, str] | None = None,
          wayforpay_secrets: Mapping[str, str] | None = None) -> None:
    """Block serving the sandbox until Ctrl-C."""
    server = make_server(host, port, create_sandbox_app(liqpay_keys, wayforpay_secrets), threaded=True)
    print(f"payment sandbox on http://{host}:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
