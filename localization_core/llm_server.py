"""A local llama.cpp server with the packaged CPU model, for laptops and tests.

With ``TRANSLATOR_PROVIDER=openai`` and no ``TRANSLATOR_BASE_URL``, ``localize`` serves the
packaged Qwen2.5 1.5B GGUF (``make llm``) through llama-cpp-python's OpenAI-compatible server:
one server per data dir, on a free loopback port, health-checked before use and stopped when the
command that started it exits. Its address is recorded in ``DATA_DIR/llm/server.json`` so every
process of that data dir (run workers, the daemon) finds it; a record whose server is gone is
ignored. ``localize llm`` serves it in the foreground for a user who starts it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from localization_core.errors import ConfigurationError
from localization_core.settings import Settings

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
CONTEXT_TOKENS = 4096
START_TIMEOUT_S = 180.0


def model_path(settings: Settings) -> Path:
    """The packaged GGUF file; a clear error when ``make llm`` has not installed it."""
    path = settings.resolved_models_dir / "llm" / GGUF_NAME
    if not path.is_file():
        raise ConfigurationError(f"the local LLM is not installed ({path}); run `make llm`")
    return path


def _record_path(settings: Settings) -> Path:
    return settings.data_dir / "llm" / "server.json"


def healthy(base_url: str) -> bool:
    """True when an OpenAI-compatible server answers ``GET /models`` at ``base_url``."""
    try:
        return httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def local_base_url(settings: Settings) -> str | None:
    """The base URL of this data dir's running local server, or None."""
    try:
        record = json.loads(_record_path(settings).read_text())
    except (OSError, ValueError):
        return None
    base_url = str(record.get("base_url", ""))
    return base_url if base_url and healthy(base_url) else None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(settings: Settings, port: int) -> list[str]:
    """llama-cpp-python's server for the packaged model on ``port`` (loopback only)."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path(settings)),
        "--model_alias", settings.translator_model,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(CONTEXT_TOKENS),
        "--n_threads", str(settings.llm_threads),
        "--seed", "0",
    ]  # fmt: skip


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not healthy(base_url):
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:]
            raise ConfigurationError(f"the local LLM server exited: {' '.join(tail)}")
        if time.monotonic() > deadline:
            raise ConfigurationError(f"the local LLM server did not answer in {START_TIMEOUT_S}s")
        time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The data dir's local server for the duration of the block: the running one when there
    is one, otherwise one started now and stopped afterwards. Yields its base URL."""
    folder = _record_path(settings).parent
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "server.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two commands of one data dir start one server
        running = local_base_url(settings)
        if running is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
            yield running
            return
        port = free_port()
        base_url = f"http://127.0.0.1:{port}/v1"
        log = folder / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                server_command(settings, port),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            _wait_healthy(process, base_url, log)
            tmp = folder / f".server.json.{os.getpid()}"
            tmp.write_text(json.dumps({"base_url": base_url, "pid": process.pid}))
            os.replace(tmp, _record_path(settings))
            fcntl.flock(lock, fcntl.LOCK_UN)
            yield base_url
        finally:
            _record_path(settings).unlink(missing_ok=True)
            _stop(process)


def needs_local_server(settings: Settings) -> bool:
    """True when the configured translator is ``openai`` with no endpoint of its own."""
    return settings.translator_provider == "openai" and not settings.translator_base_url
