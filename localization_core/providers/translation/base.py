"""Translation contract: one translated line per dub line, with a duration budget."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from localization_core.domain import Transcript, TranslatedLine, Translation
from localization_core.glossary import Glossary

Shorten = Callable[[TranslatedLine, float], str | None]


class TextCache(Protocol):
    """Small texts by cache key (a model's answers, so a rerun asks it nothing)."""

    def get(self, key: str) -> str | None:
        """The text stored under ``key``, or None."""

    def put(self, key: str, text: str) -> None:
        """Store ``text`` under ``key`` (atomically)."""


@dataclass(frozen=True)
class TranslationRequest:
    """Everything a translator may use: the dub lines, their audio, the glossary, a cache."""

    video_id: str
    transcript: Transcript
    target_language: str
    speech_audio: str | None = None
    glossary: Glossary = field(default_factory=Glossary)
    cache: TextCache | None = None


class Translator(ABC):
    """Produces the target-language text of each dub line."""

    name: str = ""

    def supported_targets(self) -> frozenset[str] | None:
        """Target languages this translator can produce; None means any."""
        return None

    @abstractmethod
    def translate(self, request: TranslationRequest) -> Translation:
        """One ``TranslatedLine`` per dub line, same ids and slots."""

    def shortener(self, language: str, cache: TextCache | None) -> Shorten | None:
        """``shorten(line, seconds)``: a shorter wording of a line in ``language`` that fits
        ``seconds`` of speech (None from it: nothing shorter); None when not supported."""
        del language, cache
        return None
