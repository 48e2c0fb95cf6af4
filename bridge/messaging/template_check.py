"""Static checks of a tenant's ``rules.templates`` for ``salonbridge check``: catch at config time what
would otherwise make a message be skipped at send time (syntax, unknown placeholders, sandbox refusals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SecurityError

from bridge.messaging.sandbox import SANDBOX, compiled
from pipelines.policy import LANGUAGES
from pipelines.templates import TEMPLATES

Problems = list[tuple[str, str]]
PARTS = ("text", "subject")
_SHAPE = "must map template ids to {language: text} or {language: {text, subject}}"


def check_templates(value: Any, base: str = "rules.templates") -> Problems:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [(base, _SHAPE)]
    problems: Problems = []
    for template_id, languages in value.items():
        path = f"{base}.{template_id}"
        if template_id not in TEMPLATES:
            problems.append((path, f"unknown template; known: {', '.join(TEMPLATES)}"))
        elif not isinstance(languages, Mapping):
            problems.append((path, "must map languages (ru, uk, en) to a text or {text, subject}"))
        else:
            for language, entry in languages.items():
                problems.extend(_check_entry(f"{path}.{language}", str(template_id), language, entry))
    return problems


def _check_entry(path: str, template_id: str, language: Any, entry: Any) -> Problems:
    if language not in LANGUAGES:
        return [(path, f"unknown language; known: {', '.join(LANGUAGES)}")]
    if isinstance(entry, str):
        entry = {"text": entry}
    if not isinstance(entry, Mapping):
        return [(path, "must be a text or {text, subject}")]
    problems: Problems = [(f"{path}.{k}", "unknown key; known: text, subject") for k in entry if k not in PARTS]
    if not any(k in entry for k in PARTS):
        problems.append((path, "needs a text, a subject or both"))
    for part in PARTS:
        if part not in entry:
            continue
        source = entry[part]
        if not isinstance(source, str) or not source.strip():
            problems.append((f"{path}.{part}", "must be non-empty text"))
        else:
            problems.extend(check_source(f"{path}.{part}", source, TEMPLATES[template_id].placeholders))
    return problems


def check_source(path: str, source: str, allowed: tuple[str, ...]) -> Problems:
    """Syntax, placeholders against ``allowed``, and a trial render with every allowed placeholder set."""
    try:
        used = meta.find_undeclared_variables(SANDBOX.parse(source))
    except TemplateSyntaxError as exc:
        return [(path, f"syntax error on line {exc.lineno}: {exc.message}")]
    unknown = sorted(used - set(allowed))
    if unknown:
        return [(path, f"unknown placeholder(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")]
    try:
        compiled(source).render({name: f"<{name}>" for name in allowed})
    except SecurityError as exc:
        return [(path, f"refused by the sandbox: {exc}")]
    except TemplateError as exc:
        return [(path, f"cannot render: {exc}")]
    return []
