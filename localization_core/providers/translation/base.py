"""Translation contract: one translated line per dub line, with a duration budget."""

from __future__ import annotations

from abc import ABC, abstractmethod

from localization_core.domain import Frozen, Transcript, TranslatedLine, Translation


class TranslationRequest(Frozen):
    """Everything a translator may use: the dub lines, their audio, and who asks."""

    video_id: str
    transcript: Transcript
    target_language: str
    speech_audio: str | None = None


class Translator(ABC):
    """Produces the target-language text of each dub line."""

    name: str = ""

    def supported_targets(self) -> frozenset[str] | None:
        """Target languages this translator can produce; None means any."""
        return None

    @abstractmethod
    def translate(self, request: TranslationRequest) -> Translation:
        """One ``TranslatedLine`` per dub line, same ids and slots."""

    def shorten(self, line: TranslatedLine, budget: float) -> str | None:
        """A shorter wording that fits ``budget`` seconds, or None when not supported."""
        del line, budget
        return None
