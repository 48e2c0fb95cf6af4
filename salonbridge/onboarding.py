"""``salonbridge init``: a new salon's tenant file, written from the shipped, commented example."""

from __future__ import annotations

import re
from pathlib import Path

from config.tenants import EXAMPLE

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class InitError(ValueError):
    pass


def tenant_text(slug: str) -> str:
    """The example with the slug in every place that names the salon (env variables get SLUG_ prefixes)."""
    prefix = re.sub(r"[^A-Z0-9]", "_", slug.upper())
    text = EXAMPLE.read_text(encoding="utf-8")
    if text.startswith("# One salon. Copy to"):  # the example's own how-to-copy line: done by init
        text = text.split("\n", 1)[1]
    text = text.replace("slug: example", f"slug: {slug}", 1)
    text = text.replace("https://example.amocrm.ru", f"https://{slug}.amocrm.ru")
    text = text.replace("/api/tenants/example/", f"/api/tenants/{slug}/")
    text = text.replace("name: Studio Example", f"name: {slug.replace('-', ' ').title()}", 1)
    text = re.sub(r"\bEXAMPLE_", f"{prefix}_", text)
    header = (f"# Tenant file of {slug!r}, written by `salonbridge init {slug}` from {EXAMPLE.name}.\n"
              "# Fill in the salon's values, set the environment variables named by every *_env below,\n"
              "# then run `salonbridge check` (it says what is wrong and what it expects).\n")
    return header + text


def variables_of(text: str) -> list[str]:
    """The environment variables an uncommented line of the file names."""
    names = []
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        match = re.search(r"_env:\s*([A-Z][A-Z0-9_]*)", code)
        if match:
            names.append(match.group(1))
    return list(dict.fromkeys(names))


def write_tenant_file(directory: Path, slug: str, *, force: bool = False) -> tuple[Path, list[str]]:
    if not SLUG.match(slug):
        raise InitError(f"{slug!r} is not a slug: use 2-63 lowercase letters, digits and dashes (e.g. studio-kyiv)")
    path = directory / f"{slug}.yaml"
    if path.exists() and not force:
        raise InitError(f"{path} exists already (use --force to overwrite it)")
    text = tenant_text(slug)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, variables_of(text)
