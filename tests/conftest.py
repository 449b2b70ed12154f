"""Fixtures: real media from tests/media, packaged models, a real Azurite."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localization_core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "tests" / "media"
MODELS = REPO / ".venv" / "share" / "localization" / "models"
AZURITE_KEY = (  # the emulator's public, documented development key (not a secret)
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def media_file(name: str) -> Path:
    """A clip from tests/media (provenance and licences in tests/media/SOURCES.md)."""
    path = MEDIA / name
    assert path.is_file(), f"test media missing: {path} (list it in tests/media/SOURCES.md)"
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own data dir, the installed models."""
    return Settings(LOCALIZATION_DATA_DIR=tmp_path / "data", LOCALIZATION_MODELS_DIR=MODELS)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Azurite blob service on 127.0.0.1; yields its connection string."""
    binary = REPO / "node_modules" / ".bin" / "azurite-blob"
    assert binary.exists(), "azurite is not installed; run `make setup`"
    port = free_port()
    location = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        yield (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM a process started with ``start_new_session``, SIGKILL it after ``grace`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


@contextlib.contextmanager
def project_settings(data: Path) -> Iterator[Settings]:
    """Settings (read from the environment, as in production) for a project in ``data``: its own
    Dagster instance and the installed models; the environment is restored afterwards."""
    from localization_core.settings import get_settings

    patch = pytest.MonkeyPatch()
    for name, value in project_env(data).items():
        if os.environ.get(name) != value:
            patch.setenv(name, value)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        patch.undo()
        get_settings.cache_clear()


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[Settings]:
    """A fresh project for one test. Tests that change a provider set its variable with
    ``monkeypatch`` and call ``get_settings.cache_clear()``."""
    with project_settings(tmp_path / "data") as settings:
        yield settings


def project_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `localize`/Dagster subprocess working on ``data_dir``."""
    return {
        **os.environ,
        "LOCALIZATION_DATA_DIR": str(data_dir),
        "LOCALIZATION_MODELS_DIR": str(MODELS),
        "DAGSTER_HOME": str(data_dir / "dagster"),
        **extra,
    }


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; tests build their inputs with it."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="session")
def french_face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s: the 512x512 face clip with its speech replaced by French speech (padded)."""
    path = tmp_path_factory.mktemp("clips") / "french-face.mp4"
    ffmpeg(
        "-i", str(media_file("talking_head_512_25fps.mp4")),
        "-i", str(media_file("speech_fr.flac")),
        "-filter_complex", "[1:a]apad,aresample=44100[a]",
        "-map", "0:v:0", "-map", "[a]", "-c:v", "copy", "-c:a", "aac", "-t", "8.0",
        str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def llm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One llama.cpp server with the packaged model for the whole session (it loads in
    seconds but answers slowly on 2 cores): the variables that point the `openai` translator
    at it, as a user with a running endpoint sets them."""
    from localization_core.llm_server import serving

    settings = Settings(
        LOCALIZATION_DATA_DIR=tmp_path_factory.mktemp("llm"), LOCALIZATION_MODELS_DIR=MODELS
    )
    with serving(settings) as base_url:
        yield {
            "TRANSLATOR_PROVIDER": "openai",
            "TRANSLATOR_BASE_URL": base_url,
            "TRANSLATOR_MODEL": settings.translator_model,
            "TRANSLATOR_SCHEMA_STYLE": "json_object",
        }
