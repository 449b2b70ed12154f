"""Local working copies of stored objects, and storing results back.

Stages run ffmpeg and models on local files; storage may be remote. A workspace downloads an
object once per version into a scratch directory and uploads results atomically.
"""

from __future__ import annotations

from pathlib import Path

from localization_core.storage.base import ObjectInfo, StorageBackend
from localization_core.storage.local import LocalStorage


class Workspace:
    """Moves media between the storage backend and a local scratch directory."""

    def __init__(self, storage: StorageBackend, scratch: Path) -> None:
        self.storage = storage
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)

    def local(self, key: str) -> Path:
        """A local file with the content of ``key`` (the stored file itself for local storage)."""
        if isinstance(self.storage, LocalStorage):
            path = self.storage.path_for(key)
            self.storage.info(key)
            return path
        info = self.storage.info(key)
        target = self.scratch / "cache" / info.etag.replace("/", "_") / Path(key).name
        if not target.is_file():
            self.storage.download_file(key, target)
        return target

    def put(self, key: str, path: Path) -> ObjectInfo:
        """Store a local file under ``key``."""
        return self.storage.upload_file(key, path)

    def scratch_dir(self, *parts: str) -> Path:
        """A scratch sub-directory for one stage's temporary files."""
        path = self.scratch.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path
