"""Lip-sync engine contract: one call per window clip."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from localization_core.presets import Tuning


class LipSyncer(ABC):
    """Re-renders the mouth of a window clip to match the dub audio."""

    name: str = ""
    version: str = ""
    checkpoint_hash: str = ""  # sha256 of the weights; part of every segment cache key
    fps: int = 25
    max_window_s: float = 30.0
    changes_frames: bool = True  # False: the picture is left as it was (no composite)

    @abstractmethod
    def sync(self, video: Path, audio: Path, out_path: Path, tuning: Tuning) -> Path:
        """Write the synced clip (same frames, same length) to ``out_path``; a frame the
        engine cannot use raises ``LipSyncError`` (the caller bisects around it)."""
