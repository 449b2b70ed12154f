"""Whisper speech translation to English, one decode per dub line so lines map 1:1."""

from __future__ import annotations

from pathlib import Path

from localization_core.audio import read_audio
from localization_core.domain import TranslatedLine, Translation
from localization_core.errors import TranslationError
from localization_core.providers.transcription.faster_whisper import load_whisper
from localization_core.providers.translation.base import TranslationRequest, Translator
from localization_core.settings import Settings

MARGIN_S = 0.15
SPEECH_RATE = 16000


class WhisperTranslator(Translator):
    """Decodes each dub line's own audio with ``task="translate"`` (English output only)."""

    name = "whisper"

    def __init__(self, settings: Settings) -> None:
        if settings.translation_model.endswith(".en"):
            raise TranslationError("whisper translation needs a multilingual model, not *.en")
        self.model_name = settings.translation_model
        self._model = load_whisper(settings, settings.translation_model)

    def supported_targets(self) -> frozenset[str]:
        """Whisper translates into English only."""
        return frozenset({"en"})

    def translate(self, request: TranslationRequest) -> Translation:
        """Translate every dub line from its own slice of the 16 kHz speech audio."""
        if request.target_language not in self.supported_targets():
            raise TranslationError(
                f"whisper cannot translate into {request.target_language!r} (English only)"
            )
        if request.speech_audio is None:
            raise TranslationError("whisper translation needs the speech audio")
        samples, rate = read_audio(Path(request.speech_audio), mono=True)
        if rate != SPEECH_RATE:
            raise TranslationError(f"speech audio must be 16 kHz mono, got {rate} Hz")
        source = request.transcript.language
        lines = []
        for line in request.transcript.lines:
            begin = max(0, int((line.start - MARGIN_S) * rate))
            end = min(len(samples), int((line.end + MARGIN_S) * rate))
            segments, _ = self._model.transcribe(
                samples[begin:end],
                task="translate",
                language=source,
                beam_size=5,
                temperature=0.0,  # no fallback sampling: the same line gives the same words
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            text = " ".join(" ".join(segment.text for segment in segments).split())
            lines.append(
                TranslatedLine(
                    id=line.id,
                    start=line.start,
                    end=line.end,
                    source_text=line.text,
                    text=text,
                    speaker=line.speaker,
                )
            )
        return Translation(
            source_language=source,
            target_language=request.target_language,
            lines=tuple(lines),
            provider=f"whisper:{self.model_name}",
        )
