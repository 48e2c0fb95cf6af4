"""HAL envelopes: absolute ``_links``, ``_embedded`` collections and page links (§12.2, §12.3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.query import Paging


def base_url() -> str:
    """The account's base URL as the client reached it (amoCRM links are absolute); an account served
    under a path prefix (``/a/<subdomain>``, see ``accounts``) keeps its prefix."""
    return request.host_url.rstrip("/") + request.script_root


def link(path: str) -> dict[str, dict[str, str]]:
    return {"self": {"href": f"{base_url()}{path}"}}


def _page_href(page: int, limit: int) -> dict[str, str]:
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "limit")]
    args += [("limit", str(limit)), ("page", str(page))]
    return {"href": f"{base_url()}{request.path}?{urlencode(args)}"}


def collection(key: str, items: list[dict], *, path: str | None = None, total: bool = False,
               status: int = 200) -> Response:
    """A non-paginated collection (pipelines, statuses, links, webhooks)."""
    body: dict[str, Any] = {}
    if total:
        body["_total_items"] = len(items)
    body["_links"] = link(path or request.path)
    body["_embedded"] = {key: items}
    return json_response(body, status)


def page_of(key: str, rows: Sequence[Any], paging: Paging, render: Callable[[Any], dict], *,
            counts: bool = False) -> Response:
    """One page of ``rows`` or 204 when it is empty. ``next`` only when there is more (§4.3);
    ``counts`` adds ``_total_items``/``_page_count``/``last`` as custom fields and users lists do."""
    start = (paging.page - 1) * paging.size
    chunk = rows[start:start + paging.size]
    if not chunk:
        return no_content()
    links: dict[str, Any] = {"self": _page_href(paging.page, paging.limit)}
    if start + paging.size < len(rows):
        links["next"] = _page_href(paging.page + 1, paging.limit)
    links["first"] = _page_href(1, paging.limit)
    if paging.page > 1:
        links["prev"] = _page_href(paging.page - 1, paging.limit)
    body: dict[str, Any] = {}
    if counts:
        page_count = max(1, -(-len(rows) // paging.size))
        links["last"] = _page_href(page_count, paging.limit)
        body.update(_total_items=len(chunk), _page=paging.page, _page_count=page_count)
    else:
        body["_page"] = paging.page
    body["_links"] = links
    body["_embedded"] = {key: [render(row) for row in chunk]}
    return json_response(body)


def write_result(key: str, items: list[dict], path: str | None = None, status: int = 200) -> Response:
    """The answer to a batch write: ``{_links.self, _embedded.{key}: [...]}`` (§4.4)."""
    return json_response({"_links": link(path or request.path), "_embedded": {key: items}}, status)
