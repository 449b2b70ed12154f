"""The storage contract: atomic writes, paged listing, metadata, and a key guard."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from localization_core.domain import Frozen
from localization_core.errors import ObjectNotFoundError, PathTraversalError

CHUNK_BYTES = 4 << 20
RESERVED_PREFIX = ".staging"
_DRIVE = re.compile(r"^[A-Za-z]:")


class ObjectInfo(Frozen):
    """Metadata of one stored object; ``etag`` changes whenever the content (or, on Azure, the
    user metadata) is rewritten."""

    key: str
    size: int
    etag: str
    content_md5: str | None = None
    last_modified: datetime | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    def metadata_value(self, name: str) -> str | None:
        """The user metadata ``name`` set on the object (case-insensitive, as Azure treats
        metadata names); None when absent or when the backend keeps no metadata (local)."""
        wanted = name.lower()
        return next((value for key, value in self.metadata if key.lower() == wanted), None)


class Page(Frozen):
    """One page of a listing; pass ``next_token`` back to get the next page."""

    items: tuple[ObjectInfo, ...]
    next_token: str | None = None


def _check_plain(key: str, original: str) -> None:
    def reject(why: str) -> PathTraversalError:
        return PathTraversalError(f"storage key {original!r} rejected: {why}")

    if not key:
        raise reject("empty key")
    if "\x00" in key:
        raise reject("NUL byte")
    if "\\" in key:
        raise reject("backslash")
    if key.startswith("/"):
        raise reject("absolute path")
    if _DRIVE.match(key):
        raise reject("drive letter")
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise reject("empty, '.' or '..' path segment")
    if segments[0] == RESERVED_PREFIX:
        raise reject("reserved prefix")


def validate_key(key: str) -> str:
    """Return ``key`` if it stays inside the storage root, else raise ``PathTraversalError``.

    Percent-encoding is decoded (repeatedly) before checking, so ``%2e%2e`` is caught too.
    """
    if not isinstance(key, str):
        raise PathTraversalError(f"storage key {key!r} rejected: not a string")
    current = key
    for _ in range(4):
        _check_plain(current, key)
        decoded = unquote(current)
        if decoded == current:
            return key
        current = decoded
    raise PathTraversalError(f"storage key {key!r} rejected: nested percent-encoding")


def validate_prefix(prefix: str) -> str:
    """A listing prefix may be empty or end in '/'; otherwise the key rules apply."""
    if prefix:
        validate_key(prefix.rstrip("/") or prefix)
    return prefix


def file_chunks(path: Path, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Read a file lazily in chunks."""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


class StorageBackend(ABC):
    """Where media and artifacts live. Writes are atomic: readers see all or nothing."""

    name: str = ""

    @abstractmethod
    def write_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Store the concatenated chunks under ``key``; nothing is visible until complete."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """The whole content of ``key`` (``ObjectNotFoundError`` when absent)."""

    @abstractmethod
    def download_file(self, key: str, dest: Path) -> Path:
        """Copy ``key`` to a local file atomically and return its path."""

    @abstractmethod
    def info(self, key: str) -> ObjectInfo:
        """Metadata of ``key`` (``ObjectNotFoundError`` when absent)."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; False when there was nothing to remove."""

    @abstractmethod
    def list_page(self, prefix: str = "", page_size: int = 1000, token: str | None = None) -> Page:
        """One page of objects whose key starts with ``prefix``, in key order."""

    def write_bytes(self, key: str, data: bytes) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically."""
        return self.write_stream(key, [data])

    def upload_file(self, key: str, path: Path) -> ObjectInfo:
        """Store a local file under ``key`` atomically."""
        return self.write_stream(key, file_chunks(path))

    @abstractmethod
    def location(self, key: str) -> str:
        """Where an operator opens ``key``: a file path, or a URL without credentials."""

    def exists(self, key: str) -> bool:
        """True when ``key`` holds an object."""
        try:
            self.info(key)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, prefix: str = "", page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, fetched page by page."""
        token: str | None = None
        while True:
            page = self.list_page(prefix, page_size=page_size, token=token)
            yield from page.items
            if not page.next_token:
                return
            token = page.next_token
