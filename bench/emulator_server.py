"""The SendGrid emulator in its own process, so it does not share a GIL with the
dispatcher being measured: ``python -m bench.emulator_server PORT API_KEY``.

``GET /__stats`` answers the accepted calls and personalizations."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
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


@contextlib.contextmanager
def emulator_process(api_key: str) -> Iterator[str]:
    """This emulator in a process of its own until the block ends; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    process = subprocess.Popen([sys.executable, "-m", "bench.emulator_server", str(port), api_key])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/__stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    uvicorn.run(
        build(sys.argv[2]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
    )
