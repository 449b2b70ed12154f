"""Local filesystem backend: temp file + fsync + rename, symlinks confined to the root."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from localization_core.errors import ObjectNotFoundError, PathTraversalError
from localization_core.storage.base import (
    RESERVED_PREFIX,
    ObjectInfo,
    Page,
    StorageBackend,
    file_chunks,
    validate_key,
    validate_prefix,
)


class LocalStorage(StorageBackend):
    """Objects are files under ``root``; ``.staging`` holds writes in progress."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._staging = self.root / RESERVED_PREFIX
        self._md5_cache: dict[tuple[str, int, int], str] = {}

    def path_for(self, key: str) -> Path:
        """The file behind ``key``; ``PathTraversalError`` if it (or a symlink) leaves the root."""
        validate_key(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise PathTraversalError(f"storage key {key!r} rejected: resolves outside the root")
        return path

    def location(self, key: str) -> str:
        """The file's absolute path."""
        return str(self.path_for(key))

    def write_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Write to a staging file, fsync, then rename onto the key's path."""
        target = self.path_for(key)
        self._staging.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._staging, prefix="write-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.info(key)

    def read_bytes(self, key: str) -> bytes:
        """Whole file content."""
        return self._existing(key).read_bytes()

    def download_file(self, key: str, dest: Path) -> Path:
        """Copy to ``dest`` through a temp file in its directory."""
        source = self._existing(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dest

    def info(self, key: str) -> ObjectInfo:
        """Size, an etag from mtime and size, and the content MD5 (cached per version)."""
        path = self._existing(key)
        return self._info(key, path)

    def delete(self, key: str) -> bool:
        """Unlink the file if present."""
        path = self.path_for(key)
        if not path.is_file():
            return False
        path.unlink()
        return True

    def list_page(self, prefix: str = "", page_size: int = 1000, token: str | None = None) -> Page:
        """Keys in sorted order; the token is the last key of the previous page."""
        validate_prefix(prefix)
        keys = sorted(key for key in self._walk(prefix) if key.startswith(prefix))
        if token is not None:
            keys = [key for key in keys if key > token]
        chosen = keys[:page_size]
        items = tuple(self._info(key, self.root / key) for key in chosen)
        more = len(keys) > page_size
        return Page(items=items, next_token=chosen[-1] if more and chosen else None)

    def _walk(self, prefix: str) -> list[str]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            current = Path(dirpath)
            if current == self.root:
                dirnames[:] = [d for d in dirnames if d != RESERVED_PREFIX]
            for filename in filenames:
                path = current / filename
                if path.resolve().is_relative_to(self.root) and path.resolve().is_file():
                    keys.append(path.relative_to(self.root).as_posix())
        return keys

    def _existing(self, key: str) -> Path:
        path = self.path_for(key)
        if not path.is_file():
            raise ObjectNotFoundError(f"no object at {key!r}")
        return path

    def _info(self, key: str, path: Path) -> ObjectInfo:
        stat = path.stat()
        version = (str(path), stat.st_mtime_ns, stat.st_size)
        md5 = self._md5_cache.get(version)
        if md5 is None:
            digest = hashlib.md5(usedforsecurity=False)
            for chunk in file_chunks(path):
                digest.update(chunk)
            md5 = digest.hexdigest()
            self._md5_cache[version] = md5
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            etag=f"{stat.st_mtime_ns:x}-{stat.st_size:x}-{md5[:8]}",
            content_md5=md5,
            last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        )
