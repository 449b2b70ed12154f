"""A loopback OpenAI-compatible chat server that checks every request's shape and answers from
a script: the contract the ``openai`` translator must keep with vLLM and llama.cpp's server.

Each request must carry the model, a system and a user message, temperature 0, a JSON schema in
``response_format`` and ``chat_template_kwargs.enable_thinking = false``; a request that does not
is answered 400 and recorded in ``violations``. Scripted answers are consumed in order; without
one, the server answers correctly (every asked line "translated" as ``<target>: <text>``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], "Reply"]


@dataclass
class Reply:
    """One scripted answer: an HTTP status, a message content, a finish reason, a delay."""

    status: int = 200
    content: str | None = ""
    finish_reason: str = "stop"
    reasoning: str | None = None
    delay_s: float = 0.0

    def body(self) -> dict[str, Any]:
        """The chat completion body of this answer."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning is not None:
            message["reasoning_content"] = self.reasoning
        return {"choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}]}


def asked_lines(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines a translation request asks for (its user message's JSON)."""
    user = request["messages"][1]["content"].split("\n")[0]
    return list(json.loads(user).get("lines", []))


def translated(request: dict[str, Any], skip: int | None = None, prefix: str = "es") -> Reply:
    """A valid answer to a translation request (leaving out line ``skip``)."""
    lines = [
        {"id": line["id"], "text": f"{prefix}: {line['text']}"}
        for line in asked_lines(request)
        if line["id"] != skip
    ]
    return Reply(content=json.dumps({"lines": lines}))


def shape_problems(request: dict[str, Any], model: str) -> list[str]:
    """What is wrong with a chat request, by the contract."""
    problems = []
    if request.get("model") != model:
        problems.append(f"model {request.get('model')!r}")
    roles = [message.get("role") for message in request.get("messages", [])]
    if roles[:2] != ["system", "user"]:
        problems.append(f"roles {roles}")
    if request.get("temperature") != 0:
        problems.append("temperature is not 0")
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_object":  # llama-cpp-python's form
        schema = response_format.get("schema")
    else:  # OpenAI's and vLLM's
        schema = (response_format.get("json_schema") or {}).get("schema")
        if response_format.get("type") != "json_schema":
            schema = None
    if not isinstance(schema, dict) or "properties" not in schema:
        problems.append("no JSON schema in response_format")
    if (request.get("chat_template_kwargs") or {}).get("enable_thinking") is not False:
        problems.append("thinking not disabled")
    return problems


@dataclass
class ContractServer:
    """The server's state: the script, what was asked and what broke the contract."""

    model: str = "contract-model"
    script: list[Reply | Answer] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: dict[str, Any]) -> Reply:
        """Record ``request`` and choose its answer."""
        with self._lock:
            self.requests.append(request)
            problems = shape_problems(request, self.model)
            if problems:
                self.violations.extend(problems)
                return Reply(status=400, content="; ".join(problems))
            step = self.script.pop(0) if self.script else translated
        return step if isinstance(step, Reply) else step(request)

    def reset(self, *script: Reply | Answer) -> None:
        """A new script; forget earlier requests."""
        with self._lock:
            self.script = list(script)
            self.requests.clear()
            self.violations.clear()


def _handler(state: ContractServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            reply = state.answer(request)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            data = json.dumps(reply.body() if reply.status == 200 else {"error": reply.content})
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    return Handler


def serve_contract() -> Iterator[ContractServer]:
    """A running contract server on a free loopback port (a fixture's body)."""
    state = ContractServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
