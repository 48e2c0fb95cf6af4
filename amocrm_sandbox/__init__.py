"""An amoCRM API v4 emulator of the subset salonbridge uses, faithful to the documented shapes
(spec/amocrm.md §14), persisted to a JSON file. ``salonbridge sandbox`` runs it with ``serve``.

Endpoints outside the API live under ``/_sandbox`` (stats, reset, faults, tokens, salesbot launches);
``GET /`` renders a read-only board of pipelines, leads and tasks.
"""

from amocrm_sandbox.app import create_sandbox_app
from amocrm_sandbox.faults import Faults
from amocrm_sandbox.options import SandboxOptions
from amocrm_sandbox.server import serve

__all__ = ["Faults", "SandboxOptions", "create_sandbox_app", "serve"]
