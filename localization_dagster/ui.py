"""`localize ui`: the Dagster webserver and daemon on the CLI's instance, as one stoppable unit.

Not ``dagster dev``: in the background it ignores SIGTERM. Here both processes share one
process group of their own; SIGINT or SIGTERM to `localize ui` stops the group (SIGTERM, then
SIGKILL after a grace period), and if either process ends, the other is stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

LOCATION = ["-m", "localization_dagster.definitions"]
GRACE_S = 5.0


def _commands(host: str, port: int) -> list[list[str]]:
    """The webserver and the daemon, from this Python environment's own scripts."""
    bin_dir = Path(sys.executable).parent
    return [
        [str(bin_dir / "dagster-webserver"), *LOCATION, "-h", host, "-p", str(port)],
        [str(bin_dir / "dagster-daemon"), "run", *LOCATION],
    ]


def _stop_group(group: int, children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM the group, SIGKILL whatever is left after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline and any(c.poll() is None for c in children):
            time.sleep(0.1)
        if all(c.poll() is not None for c in children):
            return


def serve(env: dict[str, str], host: str, port: int, say: Callable[[str], None]) -> int:
    """Run the webserver and daemon until a signal or until one of them ends; the exit code."""
    web_cmd, daemon_cmd = _commands(host, port)
    web = subprocess.Popen(web_cmd, env=env, process_group=0)
    children = [web, subprocess.Popen(daemon_cmd, env=env, process_group=web.pid)]
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    say(f"Dagster UI: http://{host}:{port} (webserver and daemon; Ctrl-C or SIGTERM stops both)")
    ended: list[int] = []
    try:
        while not stopping and not ended:
            ended = [i for i, child in enumerate(children) if child.poll() is not None]
            time.sleep(0.2)
    finally:
        _stop_group(web.pid, children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopping:
        say("stopped")
        return 0
    first = ended[0]
    name = ("dagster-webserver", "dagster-daemon")[first]
    say(f"{name} ended (exit {children[first].returncode}); stopped the other")
    return 1
