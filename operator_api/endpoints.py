"""The endpoint declarations: the routes and the OpenAPI document come from these."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from operator_api.access import problem

__all__ = ["API_PREFIX", "Endpoint", "Param", "invalid", "json_response"]

API_PREFIX = "/api/v1"
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    required: bool = False
    schema_type: str = "string"
    where: str = "query"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # under API_PREFIX
    handler: Handler
    summary: str
    scope: str | None  # None: no key needed
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    idempotent: bool = False  # takes an Idempotency-Key

    @property
    def full_path(self) -> str:
        return API_PREFIX + self.path


def invalid(exc: ValidationError) -> JSONResponse:
    """422 naming the fields at fault (never echoing their values: personal data)."""
    fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
    return problem(422, "invalid request", "invalid: " + ", ".join(fields[:20]))


def json_response(body: object, status: int = 200, **headers: str) -> Response:
    """A compact JSON answer (``separators``: the batch answer is 10,000 objects)."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(data, status_code=status, headers=headers, media_type="application/json")
