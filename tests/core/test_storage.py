"""One contract suite for both storage backends: local files and Azure Blob on a real Azurite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from localization_core.errors import ConfigurationError, ObjectNotFoundError, PathTraversalError
from localization_core.settings import Settings
from localization_core.storage import StorageBackend, create_storage, validate_key
from localization_core.storage.azure_blob import AzureBlobStorage
from localization_core.storage.local import LocalStorage

TRAVERSALS = [
    "..",
    "../outside.txt",
    "videos/../../outside.txt",
    "%2e%2e/outside.txt",
    "%2E%2E%2Foutside.txt",
    "videos/%2e%2e/%2e%2e/outside.txt",
    "%252e%252e/outside.txt",
    "/etc/passwd",
    "C:/Windows/win.ini",
    "c:outside",
    "videos\\..\\outside.txt",
    "videos%5c..%5coutside.txt",
    "videos/a\x00.txt",
    "videos/a%00.txt",
    "",
    "videos//double",
    "./here",
    ".staging/write-1",
]


@pytest.fixture(params=["local", "azure_blob"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageBackend]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "root")
        return
    connection = request.getfixturevalue("azurite")
    store = AzureBlobStorage(f"c{uuid.uuid4().hex[:20]}", connection_string=connection)
    store.ensure_container()
    yield store


def test_round_trip_and_metadata(backend: StorageBackend, tmp_path: Path) -> None:
    info = backend.write_bytes("videos/intro/source.mp4", b"hello world")
    assert info.key == "videos/intro/source.mp4"
    assert info.size == 11
    assert info.content_md5 == "5eb63bbbe01eeed093cb22bb8f5acdc3"
    assert backend.read_bytes("videos/intro/source.mp4") == b"hello world"
    assert backend.exists("videos/intro/source.mp4")
    dest = backend.download_file("videos/intro/source.mp4", tmp_path / "out" / "copy.mp4")
    assert dest.read_bytes() == b"hello world"


def test_rewrite_changes_etag_and_md5(backend: StorageBackend) -> None:
    first = backend.write_bytes("a/b.bin", b"one")
    second = backend.write_bytes("a/b.bin", b"two, longer")
    assert first.etag != second.etag
    assert first.content_md5 != second.content_md5
    assert backend.info("a/b.bin") == second


def test_upload_file_streams_in_chunks(backend: StorageBackend, tmp_path: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    info = backend.upload_file("big/one.bin", source)
    assert info.size == len(payload)
    assert backend.read_bytes("big/one.bin") == payload


def test_missing_objects(backend: StorageBackend, tmp_path: Path) -> None:
    assert not backend.exists("nope/x")
    with pytest.raises(ObjectNotFoundError):
        backend.info("nope/x")
    with pytest.raises(ObjectNotFoundError):
        backend.read_bytes("nope/x")
    with pytest.raises(ObjectNotFoundError):
        backend.download_file("nope/x", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert backend.delete("nope/x") is False


def test_delete(backend: StorageBackend) -> None:
    backend.write_bytes("d/x", b"1")
    assert backend.delete("d/x") is True
    assert not backend.exists("d/x")


def test_listing_pages_in_key_order(backend: StorageBackend) -> None:
    keys = [f"uploads/v{i:02d}.mp4" for i in range(7)] + ["other/z.mp4", "uploadsX/y.mp4"]
    for key in keys:
        backend.write_bytes(key, key.encode())
    first = backend.list_page("uploads/", page_size=3)
    assert [item.key for item in first.items] == keys[:3]
    assert first.next_token
    listed = [item.key for item in backend.list("uploads/", page_size=3)]
    assert listed == keys[:7]
    assert {item.key for item in backend.list("")} == set(keys)
    assert all(item.content_md5 for item in backend.list("uploads/"))
    assert backend.list_page("empty/").items == ()


@pytest.mark.parametrize("key", TRAVERSALS)
def test_path_guard_rejects(backend: StorageBackend, key: str) -> None:
    with pytest.raises(PathTraversalError):
        backend.write_bytes(key, b"x")
    with pytest.raises(PathTraversalError):
        backend.read_bytes(key)
    with pytest.raises(PathTraversalError):
        backend.info(key)
    with pytest.raises(PathTraversalError):
        backend.delete(key)


def test_path_guard_rejects_listing_prefix(backend: StorageBackend) -> None:
    with pytest.raises(PathTraversalError):
        backend.list_page("../")


@pytest.mark.parametrize("key", ["videos/intro.mp4", "a/b/c.d", "edits/v1%20draft.srt", "x..y"])
def test_ordinary_keys_pass(key: str) -> None:
    assert validate_key(key) == key


def test_local_symlink_escaping_root_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    store = LocalStorage(tmp_path / "root")
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathTraversalError, match="outside the root"):
        store.read_bytes("link/secret.txt")
    with pytest.raises(PathTraversalError):
        store.write_bytes("link/new.txt", b"x")
    assert not (outside / "new.txt").exists()
    assert [item.key for item in store.list("")] == []


def test_local_symlink_inside_root_is_fine(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "root")
    store.write_bytes("real/a.txt", b"a")
    (store.root / "alias").symlink_to(store.root / "real", target_is_directory=True)
    assert store.read_bytes("alias/a.txt") == b"a"


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from localization_core.storage.azure_blob import AzureBlobStorage
    from localization_core.storage.local import LocalStorage

    kind, where, key = sys.argv[1:4]
    if kind == "local":
        store = LocalStorage(Path(where))
    else:
        container, connection = where.split("|", 1)
        store = AzureBlobStorage(container, connection_string=connection, block_size=1024)

    def chunks():
        for _ in range(8):
            yield b"x" * 1024
        print("HALF-WAY", flush=True)
        time.sleep(600)
        yield b"never"

    store.write_stream(key, chunks())
    """
)


def _kill_half_way(kind: str, where: str, key: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, kind, where, key],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "HALF-WAY"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.parametrize("kind", ["local", "azure_blob"])
def test_write_killed_half_way_leaves_nothing_visible(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "local":
        store: StorageBackend = LocalStorage(tmp_path / "root")
        where = str(tmp_path / "root")
    else:
        connection = request.getfixturevalue("azurite")
        container = f"k{uuid.uuid4().hex[:20]}"
        store = AzureBlobStorage(container, connection_string=connection)
        store.ensure_container()
        where = f"{container}|{connection}"
    store.write_bytes("keep/old.bin", b"old version")
    _kill_half_way(kind, where, "fresh/new.bin")
    _kill_half_way(kind, where, "keep/old.bin")
    assert not store.exists("fresh/new.bin")
    assert store.read_bytes("keep/old.bin") == b"old version"
    assert [item.key for item in store.list("")] == ["keep/old.bin"]


def test_factory_builds_configured_backend(tmp_path: Path, azurite: str) -> None:
    local = create_storage(Settings(LOCALIZATION_DATA_DIR=tmp_path))
    assert isinstance(local, LocalStorage)
    assert local.root == (tmp_path / "storage").resolve()
    remote = create_storage(
        Settings(
            STORAGE_TYPE="azure_blob",
            AZURE_STORAGE_CONNECTION_STRING=azurite,
            AZURE_STORAGE_CONTAINER="factory",
        )
    )
    assert isinstance(remote, AzureBlobStorage)


def test_azure_without_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_STORAGE_CONNECTION_STRING"):
        create_storage(Settings(STORAGE_TYPE="azure_blob"))


def test_settings_never_show_the_connection_string(azurite: str) -> None:
    settings = Settings(STORAGE_TYPE="azure_blob", AZURE_STORAGE_CONNECTION_STRING=azurite)
    assert "AccountKey" not in repr(settings)
    assert "AccountKey" not in str(settings.model_dump())
