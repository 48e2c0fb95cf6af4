"""The Jinja2 environment tenant templates run in: sandboxed, strict, and small on purpose.

Tenant texts need placeholders, ``{% if %}`` and a few text filters, nothing else. So, beyond the
immutable sandbox: every placeholder missing is an error (``StrictUndefined``), no attribute access
except ``loop.*``, no calls, no globals, a whitelist of filters, and no ``**`` or huge ``*`` repeats
(a template must not be able to exhaust a worker's memory).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

ALLOWED_FILTERS = frozenset(
    {"capitalize", "d", "default", "e", "escape", "lower", "replace", "string", "title", "trim", "truncate", "upper"}
)
MAX_REPEAT = 1000  # characters a ``*`` repeat may produce


class TemplateSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self.globals.clear()
        self.filters = {name: f for name, f in self.filters.items() if name in ALLOWED_FILTERS}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return isinstance(obj, LoopContext) and not attr.startswith("_")

    def call(self, context: Context, obj: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise SecurityError("calls are not allowed in message templates")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in message templates")
        sized = [v for v in (left, right) if isinstance(v, str | list | tuple)]
        counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if sized and counts and len(sized[0]) * counts[0] > MAX_REPEAT:
            raise SecurityError(f"a repeat longer than {MAX_REPEAT} characters is not allowed")
        return super().call_binop(context, operator, left, right)


SANDBOX = TemplateSandbox()


@lru_cache(maxsize=1024)
def compiled(source: str) -> Template:
    """The compiled template for ``source`` (texts repeat across messages, compiling is the slow part)."""
    return SANDBOX.from_string(source)
