"""`make test` preflight: the machine services the suite talks to, checked before any test runs.

A service that is down is started once with the machine's own command when that command exists
(this machine kind starts them before a session, but one may have stopped); if it still does not
answer, one line names it and how to start it, instead of a page of test errors.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    """A service some tests need, where it listens and how this machine kind starts it."""

    name: str
    port: int
    needed_by: str
    start: str


SERVICES = (
    Service(
        name="PostgreSQL",
        port=5432,
        needed_by="tests/dagster/test_production_instance.py",
        start="pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    ),
    Service(
        name="RabbitMQ",
        port=5672,
        needed_by="tests/e2e/test_celery.py (the Celery workers' broker)",
        start="rabbitmq-server -detached",
    ),
)
CLIENTS = {"psql": "postgresql-client (apt)", "rabbitmqctl": "rabbitmq-server (apt)"}


def listening(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def _try_start(service: Service, wait_s: float = 60.0) -> bool:
    if shutil.which(service.start.split()[0]) is None:
        return False
    subprocess.run(["sh", "-c", service.start], capture_output=True, timeout=60, check=False)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if listening(service.port):
            return True
        time.sleep(0.5)
    return False


def problems() -> list[str]:
    """One line per missing service or client; empty when the machine is ready."""
    found = [
        f"{service.name} is not reachable on 127.0.0.1:{service.port} (needed by "
        f"{service.needed_by}); start it with: {service.start}"
        for service in SERVICES
        if not listening(service.port) and not _try_start(service)
    ]
    found += [
        f"`{client}` is not installed (needed by the tests; install {package})"
        for client, package in CLIENTS.items()
        if shutil.which(client) is None
    ]
    return found


def main() -> int:
    """Print each problem on one line; exit 1 when there is any."""
    found = problems()
    for line in found:
        print(f"preflight: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
