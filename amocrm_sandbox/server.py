"""``salonbridge sandbox``'s runner: the emulator on a threaded Werkzeug server until interrupted."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from amocrm_sandbox.accounts import SandboxServer
from amocrm_sandbox.app import create_sandbox_app


def serve(host: str, port: int, state_path: Path | None, **opts: Any) -> None:
    """Block serving the sandbox; ``opts`` go to ``create_sandbox_app``. Ctrl-C stops it cleanly
    (the state is saved after every write, so there is nothing to flush). More accounts can be added
    at run time under ``/a/<subdomain>`` (``POST /_sandbox/accounts``)."""
    app = SandboxServer(create_sandbox_app(state_path, **opts))
    server = make_server(host, port, app, threaded=True)
    print(f"amoCRM sandbox on http://{host}:{server.server_port} (state: {state_path or 'memory'})",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
