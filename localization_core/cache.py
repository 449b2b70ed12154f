"""Content cache keys and the atomic segment store: nothing is computed twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from localization_core.audio import Samples
from localization_core.domain import Span
from localization_core.errors import ObjectNotFoundError
from localization_core.storage.base import StorageBackend


def cache_key(kind: str, **inputs: Any) -> str:
    """sha256 over a kind and its window-local inputs (sorted, JSON-encoded)."""
    payload = json.dumps(
        {"kind": kind, **inputs}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


AUDIO_MARGIN_S = 0.1


def audio_digest(samples: Samples, rate: int, span: Span, margin: float = AUDIO_MARGIN_S) -> str:
    """sha256 of the audio inside ``span`` plus ``margin`` on each side (16-bit quantized)."""
    begin = max(0, int((span.start - margin) * rate))
    stop = min(len(samples), int((span.end + margin) * rate))
    quantized = np.clip(samples[begin:stop] * 32767, -32768, 32767).astype("<i2")
    return hashlib.sha256(quantized.tobytes()).hexdigest()


def clipped_spans(spans: Sequence[Span], window: Span) -> list[tuple[float, float]]:
    """The parts of ``spans`` inside ``window`` (what the window itself sees)."""
    inside = (
        (max(s.start, window.start), min(s.end, window.end))
        for s in spans
        if s.end > window.start and s.start < window.end
    )
    return sorted((round(a, 4), round(b, 4)) for a, b in inside if b > a)


def segment_key(
    *,
    source_id: str,
    window: Span,
    dub_audio: Samples,
    rate: int,
    sync_spans: Sequence[Span],
    engine: str,
    tuning: str,
) -> str:
    """The plan's key of one window (DESIGN section 4): window-local inputs only, so an edit
    elsewhere in the video leaves this window's result reusable. The installed engine's
    version and weights are added where the engine runs (``engine_key``)."""
    return cache_key(
        "lipsync",
        source=source_id,
        span=(round(window.start, 4), round(window.end, 4)),
        audio=audio_digest(dub_audio, rate, window),
        sync_spans=clipped_spans(sync_spans, window),
        engine=engine,
        tuning=tuning,
    )


def engine_key(window_key: str, *, engine_version: str, checkpoint_hash: str) -> str:
    """The segment store's key of one window: its plan key, the engine version and the sha256
    of the weights, known only on the node that has them (a GPU node), not where the plan is
    made."""
    return cache_key(
        "lipsync-segment",
        window=window_key,
        engine_version=engine_version,
        checkpoint=checkpoint_hash,
    )


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


class TextStore:
    """Small texts by cache key under one storage prefix (a model's answers)."""

    def __init__(self, storage: StorageBackend, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix.rstrip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key[:2]}/{key}.txt"

    def get(self, key: str) -> str | None:
        """The text stored under ``key``, or None."""
        try:
            return self.storage.read_bytes(self._key(key)).decode()
        except ObjectNotFoundError:
            return None

    def put(self, key: str, text: str) -> None:
        """Store ``text`` under ``key`` (storage writes are atomic)."""
        self.storage.write_bytes(self._key(key), text.encode())
