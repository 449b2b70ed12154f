"""Content cache keys and the atomic segment store: nothing is computed twice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from localization_core.errors import ObjectNotFoundError
from localization_core.storage.base import StorageBackend


def cache_key(kind: str, **inputs: Any) -> str:
    """sha256 over a kind and its window-local inputs (sorted, JSON-encoded)."""
    payload = json.dumps(
        {"kind": kind, **inputs}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class SegmentStore:
    """Results by cache key under one storage prefix; writes are atomic (storage contract)."""

    def __init__(self, storage: StorageBackend, prefix: str, suffix: str) -> None:
        self.storage = storage
        self.prefix = prefix.rstrip("/")
        self.suffix = suffix

    def key_for(self, key: str) -> str:
        """The storage key of a cache entry."""
        return f"{self.prefix}/{key[:2]}/{key}{self.suffix}"

    def has(self, key: str) -> bool:
        """True when the result of ``key`` is stored."""
        try:
            self.storage.info(self.key_for(key))
        except ObjectNotFoundError:
            return False
        return True

    def put(self, key: str, path: Path) -> str:
        """Store a finished result; returns its storage key."""
        stored = self.key_for(key)
        self.storage.upload_file(stored, path)
        return stored
