"""Speech-to-text contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from localization_core.domain import Transcript


class Transcriber(ABC):
    """Recognises speech with word timings and identifies the language."""

    name: str = ""

    @abstractmethod
    def transcribe(self, audio: Path, language: str | None = None) -> Transcript:
        """Dub lines of ``audio``; ``language`` overrides detection when given."""

    @abstractmethod
    def detect_language(self, audio: Path) -> tuple[str, float]:
        """The spoken language of ``audio`` (first 30 s) and its probability."""

    @abstractmethod
    def supported_languages(self) -> frozenset[str]:
        """The source language codes this model recognises (``--from`` is checked against it)."""
