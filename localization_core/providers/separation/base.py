"""Vocal/background separation contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from localization_core.domain import SeparationResult


class AudioSeparator(ABC):
    """Splits a media file's audio into a vocals stem and a background stem."""

    name: str = ""

    @abstractmethod
    def separate(self, media_path: Path, out_dir: Path) -> SeparationResult:
        """Write ``vocals.wav`` and ``background.wav`` under ``out_dir``."""
