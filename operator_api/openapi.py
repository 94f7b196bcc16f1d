"""The OpenAPI 3.1 document, built from the endpoint declarations and their pydantic
models, and a plain HTML reference of it (no script, no CDN: it works offline)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from operator_api.endpoints import API_PREFIX, Endpoint
from operator_api.schemas import Problem
from reconsent.kernel.rules import contactability

__all__ = ["docs_page", "openapi_document"]

_REF = "#/components/schemas/{model}"
_ERRORS = {
    "401": "missing, unknown or revoked key",
    "403": "the key lacks the endpoint's scope",
    "404": "no such contact, purpose or notice",
    "409": "an Idempotency-Key reused with another body; an address several contacts hold",
    "422": "an invalid request, or one that cannot be recorded",
}


def _schemas(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    models: list[type[BaseModel]] = [Problem]
    for e in endpoints:
        models += [m for m in (e.body, e.response) if m is not None]
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _operation(e: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": e.summary, "operationId": e.handler.__name__}
    if e.params:
        op["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required,
                "description": p.description,
                "schema": {"type": p.schema_type},
            }
            for p in e.params
        ]
    if e.body is not None:
        ref = {"$ref": _REF.format(model=e.body.__name__)}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    ok = "201" if e.method == "POST" and e.idempotent else "200"
    responses: dict[str, Any] = {ok: {"description": "OK"}}
    if e.response is not None:
        ref = {"$ref": _REF.format(model=e.response.__name__)}
        responses[ok]["content"] = {"application/json": {"schema": ref}}
    problem = {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}}
    for code, why in _ERRORS.items():
        if e.scope is not None or code == "422":
            responses[code] = {"description": why, "content": problem}
    op["responses"] = responses
    if e.scope is not None:
        op["security"] = [{"bearer": [e.scope]}, {"apiKey": [e.scope]}]
        op["description"] = f"Scope: `{e.scope}`."
    return op


def openapi_document(endpoints: Sequence[Endpoint], version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for e in endpoints:
        paths.setdefault(e.full_path, {})[e.method.lower()] = _operation(e)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reconsent operator API",
            "version": version,
            "description": "The contact centre's real-time consent service: may this number "
            "be called now (every reason), record what the person said, follow the changes.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": _schemas(endpoints),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "code,pre{background:#f4f4f4;padding:.1rem .3rem}pre{padding:.6rem;overflow:auto}"
    "h2{border-top:1px solid #ccc;padding-top:1rem}.m{font-weight:bold;color:#05a}"
)


def docs_page(document: dict[str, Any]) -> str:
    """Every operation, its parameters and its body schemas, as one static page."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><meta charset='utf-8'>",
        f"<title>{esc(document['info']['title'])}</title><style>{_STYLE}</style>",
        f"<h1>{esc(document['info']['title'])} {esc(document['info']['version'])}</h1>",
        f"<p>{esc(document['info']['description'])}</p>",
        f"<p>Machine-readable: <a href='{API_PREFIX}/openapi.json'>openapi.json</a>. "
        "Authenticate with <code>Authorization: Bearer &lt;key&gt;</code> or "
        "<code>X-API-Key</code>.</p>",
    ]
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            parts.append(
                f"<h2><span class='m'>{esc(method.upper())}</span> <code>{esc(path)}</code></h2>"
            )
            parts.append(f"<p>{esc(op['summary'])} {esc(op.get('description', ''))}</p>")
            if op.get("parameters"):
                parts.append("<ul>")
                for p in op["parameters"]:
                    need = " (required)" if p["required"] else ""
                    parts.append(
                        f"<li><code>{esc(p['name'])}</code> ({esc(p['in'])}){need}: "
                        f"{esc(p['description'])}</li>"
                    )
                parts.append("</ul>")
            codes = ", ".join(esc(code) for code in op["responses"])
            parts.append(f"<p>Responses: {codes}</p>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        parts.append(f"<h3 id='{esc(name)}'>{esc(name)}</h3>")
        parts.append(f"<pre>{esc(json.dumps(schema, indent=2))}</pre>")
    parts.append(f"<h2>Reasons</h2><pre>{esc(contactability.__doc__ or '')}</pre></html>")
    return "".join(parts)
