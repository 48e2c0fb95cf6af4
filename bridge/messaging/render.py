"""Rendering a client message: the tenant's text (or the default) with the SendMessage's values.

Texts come from the tenant YAML, ``rules.templates.<template>.<language>`` (a string, or
``{text, subject}``), falling back to ``pipelines.templates`` and ``subjects``. Rendering is strict:
a placeholder the text uses but the context lacks raises ``TemplateProblem`` naming every such
placeholder, and so does anything the sandbox refuses; the caller logs it and skips the message, the
same way on every retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SecurityError

from bridge.messaging.formatting import format_values
from bridge.messaging.sandbox import SANDBOX, compiled
from bridge.messaging.subjects import default_subject
from bridge.messaging.template_check import check_templates
from pipelines.templates import TEMPLATES, default_text

if TYPE_CHECKING:
    from config.tenants import Tenant
    from pipelines.actions import SendMessage


class TemplateProblem(Exception):
    """A template cannot be rendered: ``missing`` placeholders, or ``reason`` (syntax, sandbox)."""

    def __init__(self, template: str, missing: tuple[str, ...] = (), reason: str = "") -> None:
        self.template, self.missing = template, tuple(missing)
        self.reason = reason or f"missing placeholder(s): {', '.join(self.missing)}"
        super().__init__(f"template {template!r}: {self.reason}")


@dataclass(frozen=True)
class TemplateText:
    """The source a message is rendered from, and where it came from ("tenant" or "default")."""

    template: str
    language: str
    text: str
    subject: str | None
    origin: str


@dataclass(frozen=True)
class RenderedMessage:
    template: str
    language: str
    text: str
    subject: str | None


def template_text(template_id: str, language: str, rules_templates: Mapping[str, Any] | None = None) -> TemplateText:
    """The tenant's text/subject for ``template_id`` in ``language``, each falling back to the default."""
    if template_id not in TEMPLATES:
        raise TemplateProblem(template_id, reason="unknown template")
    per_template = (rules_templates or {}).get(template_id)
    entry = per_template.get(language) if isinstance(per_template, Mapping) else None
    custom = {"text": entry} if isinstance(entry, str) else entry if isinstance(entry, Mapping) else {}
    text, subject = _text_of(custom, "text"), _text_of(custom, "subject")
    return TemplateText(
        template_id,
        language,
        text or default_text(template_id, language),
        subject or default_subject(template_id, language),
        "tenant" if text else "default",
    )


def _text_of(entry: Mapping[str, Any], part: str) -> str | None:
    value = entry.get(part)
    return value if isinstance(value, str) and value.strip() else None


def render(source: TemplateText, values: Mapping[str, str]) -> RenderedMessage:
    """Render text and subject with ``values`` (already formatted); raises TemplateProblem."""
    text = _render_one(source.template, source.text, values)
    subject = _render_one(source.template, source.subject, values) if source.subject else None
    return RenderedMessage(source.template, source.language, text.strip(), _one_line(subject))


def render_message(
    template_id: str,
    language: str,
    context: Mapping[str, object],
    *,
    timezone: ZoneInfo,
    rules_templates: Mapping[str, Any] | None = None,
    currency: str | None = None,
) -> RenderedMessage:
    """Resolve, format the values (dates in ``timezone``, per ``language``) and render."""
    values = format_values(context, language=language, timezone=timezone, currency=currency)
    return render(template_text(template_id, language, rules_templates), values)


def render_for(tenant: Tenant, send: SendMessage, link: str | None = None) -> RenderedMessage:
    """What the executor calls: the SendMessage's context plus ``link`` in the tenant's templates."""
    context: dict[str, object] = dict(send.context)
    if link is not None:
        context["link"] = link
    return render_message(
        send.template,
        send.language,
        context,
        timezone=tenant.timezone,
        rules_templates=tenant.rules.templates,
        currency=tenant.currency,
    )


@lru_cache(maxsize=1024)
def used_placeholders(source: str) -> frozenset[str]:
    """Names a template text reads (parsing only); raises TemplateSyntaxError."""
    return frozenset(meta.find_undeclared_variables(SANDBOX.parse(source)))


def _render_one(template_id: str, source: str, values: Mapping[str, str]) -> str:
    try:
        missing = tuple(sorted(used_placeholders(source) - set(values)))
        if missing:
            raise TemplateProblem(template_id, missing)
        return compiled(source).render(values)
    except SecurityError as exc:
        raise TemplateProblem(template_id, reason=f"refused by the sandbox: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateProblem(template_id, reason=f"syntax error on line {exc.lineno}: {exc.message}") from exc
    except TemplateError as exc:
        raise TemplateProblem(template_id, reason=f"cannot render: {exc}") from exc


def _one_line(subject: str | None) -> str | None:
    """Subjects are single-line (a newline would end the header); blank ones count as absent."""
    if subject is None:
        return None
    return " ".join(subject.split()) or None


def validate_templates(rules_templates: Any) -> list[tuple[str, str]]:
    """Every problem in a tenant's ``rules.templates`` as (path, message), for ``salonbridge check``."""
    return check_templates(rules_templates)
