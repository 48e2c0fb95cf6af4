"""An amoCRM API v4 emulator of the subset salonbridge uses, faithful to the documented shapes
(spec/amocrm.md §14), persisted to a JSON file. ``salonbridge sandbox`` runs it with ``serve``.
It is a stand-alone package: it imports nothing of salonbridge's (an import-linter contract says so).

- ``create_sandbox_app(state_path, …)``: one account as a Flask app (``SandboxOptions`` for its knobs,
  ``Faults`` for failures from the start).
- ``SandboxServer``: several accounts behind one server, ``/a/<subdomain>`` each (``accounts``).
- API edge (``gate``): 7 req/s rolling limit → 429 → 403 block; optional calendar-second limit
  (``per_second_limit``); faults: a share of 5xx, a share of answers held past the client's timeout
  (``slow_rate``/``slow_seconds``), bursts of 429 (``burst_429``, ``burst_retry_after``), a one-off access
  token expiry (``expire_token_after``), all tokens refused (``reject_tokens``), store-then-timeout
  writes; scripted one-offs (``Step``: "the next POST /api/v4/leads answers 502").
- Webhook echoes (``echoes``): with a webhook registered, every change of leads, contacts and tasks —
  the integration's own included — is POSTed to it in amoCRM's form format, in order, 2 s timeout.
- Controls under ``/_sandbox`` (``control``): stats (per endpoint, per calendar second, 429s), reset,
  faults (GET/POST/PATCH), steps, limits, tokens (mint, expire, revoke, issued), the request journal
  (``requests``), stored data (``data/<table>``), webhook deliveries (``webhooks``, ``webhooks/wait``),
  a person's edits (``person/<entity>/<id>``), Salesbot launches; ``GET /`` renders a read-only board.
"""

from amocrm_sandbox.accounts import SandboxServer
from amocrm_sandbox.app import create_sandbox_app
from amocrm_sandbox.faults import Faults, Step
from amocrm_sandbox.options import SandboxOptions
from amocrm_sandbox.server import serve

__all__ = ["Faults", "SandboxOptions", "SandboxServer", "Step", "create_sandbox_app", "serve"]
