"""The reference TTS service on loopback HTTP, with faults a real GPU service shows.

``serve(app)`` runs an ASGI app with uvicorn in a thread. ``Faults`` wraps the reference app:
``/fault/<kind>/synthesize`` misbehaves (``503-once``: 503 on the first request, then the real
answer; ``slow``: answers after ``SLOW_S``; ``html``: an HTML error page with status 200), and
counts the requests it saw; every other path goes to the reference app untouched.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from tests.conftest import free_port

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
SLOW_S = 5.0


class Faults:
    """The reference app behind a fault injector, with a request count per path."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.seen: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/fault/"):
            await self.app(scope, receive, send)
            return
        self.seen[path] += 1
        kind = path.split("/")[2]
        if kind == "503-once" and self.seen[path] == 1:
            await _answer(send, 503, b"busy", "text/plain")
            return
        if kind == "slow":
            await asyncio.sleep(SLOW_S)
        if kind == "html":
            await _answer(send, 200, b"<html>upstream error</html>", "text/html")
            return
        await self.app({**scope, "path": "/synthesize", "raw_path": b"/synthesize"}, receive, send)


async def _answer(send: Send, status: int, body: bytes, kind: str) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serve(app: App) -> Iterator[str]:
    """``app`` on 127.0.0.1 until the block ends; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the TTS test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.handle_exit(signal.SIGTERM, None)
        thread.join(timeout=10)
