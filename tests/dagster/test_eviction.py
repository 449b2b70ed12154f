"""The eviction watcher stops the worker before acknowledging, and only for this VM's Preempt.

Azure's metadata service exists only on Azure VMs; a local HTTP server speaking its Scheduled
Events format stands in for it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest

from localization_dagster import eviction

VM = "vloc-gpu-0"


class FakeScheduledEvents(HTTPServer):
    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.events = events
        self.log: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: FakeScheduledEvents

    def do_GET(self) -> None:
        assert self.headers["Metadata"] == "true"
        self.server.log.append("get")
        if "instance/compute/name" in self.path:
            self._reply(VM.encode(), "text/plain")
        else:
            self._reply(
                json.dumps({"DocumentIncarnation": 1, "Events": self.server.events}).encode()
            )

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        self.server.log.append(f"ack {[r['EventId'] for r in body['StartRequests']]}")
        self._reply(b"")

    def _reply(self, body: bytes, kind: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture()
def metadata() -> Iterator[FakeScheduledEvents]:
    server = FakeScheduledEvents([])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()


def url(server: FakeScheduledEvents) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/metadata/scheduledevents"


def event(kind: str, resources: list[str], event_id: str = "E1") -> dict[str, Any]:
    return {"EventId": event_id, "EventType": kind, "Resources": resources, "NotBefore": ""}


def test_other_vms_and_other_event_types_are_ignored(metadata: FakeScheduledEvents) -> None:
    metadata.events = [event("Preempt", ["vloc-gpu-1"]), event("Reboot", [VM], "E2")]
    stopped: list[str] = []
    with httpx.Client() as client:
        handled = eviction.watch_once(client, VM, lambda: stopped.append("stop"), url(metadata))
    assert not handled and stopped == [] and metadata.log == ["get"]


def test_preempt_stops_the_worker_then_acknowledges(metadata: FakeScheduledEvents) -> None:
    metadata.events = [event("Preempt", [VM], "E7")]
    with httpx.Client() as client:
        handled = eviction.watch_once(
            client, VM, lambda: metadata.log.append("stop worker"), url(metadata)
        )
    assert handled
    assert metadata.log == ["get", "stop worker", "ack ['E7']"], "stop first, then acknowledge"


def test_main_polls_until_preempted(
    metadata: FakeScheduledEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata.events = [event("Preempt", [VM], "E9")]
    stops: list[tuple[str, str]] = []
    monkeypatch.setattr(eviction, "stop_consuming", lambda node, queue: stops.append((node, queue)))
    monkeypatch.setattr(
        eviction, "NAME_URL", url(metadata).replace("scheduledevents", "instance/compute/name")
    )
    code = eviction.main(["--worker-node", "gpu@vloc-gpu-0", "--events-url", url(metadata),
                          "--interval", "0.01"])  # fmt: skip
    assert code == 0
    assert stops == [("gpu@vloc-gpu-0", "gpu")]
    assert metadata.log[-1] == "ack ['E9']"
