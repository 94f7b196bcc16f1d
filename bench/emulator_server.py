"""The SendGrid emulator in its own process, so it does not share a GIL with the
dispatcher being measured: ``python -m bench.emulator_server PORT API_KEY``.

``GET /__stats`` answers the accepted calls and personalizations."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from reconsent.dev.emulators.sendgrid import SendGridEmulator


def build(api_key: str) -> Starlette:
    emulator = SendGridEmulator(api_key)

    async def stats(_request: Request) -> JSONResponse:
        accepted = emulator.accepted()
        people = sum(len(r.body["personalizations"]) for r in accepted)
        attempts = {
            p["custom_args"]["attempt_id"] for r in accepted for p in r.body["personalizations"]
        }
        return JSONResponse(
            {"calls": len(accepted), "personalizations": people, "distinct_attempts": len(attempts)}
        )

    return Starlette(routes=[Route("/__stats", stats), Mount("/", emulator.app())])


if __name__ == "__main__":
    uvicorn.run(
        build(sys.argv[2]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
    )
