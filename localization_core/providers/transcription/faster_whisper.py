"""faster-whisper (CTranslate2) transcription from a local model directory, CPU int8 by default."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from localization_core.domain import Transcript, Word
from localization_core.dub_lines import split_into_dub_lines
from localization_core.errors import TranscriptionError
from localization_core.models import model_dir
from localization_core.providers.transcription.base import Transcriber
from localization_core.settings import Settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel


def load_whisper(settings: Settings, model: str) -> WhisperModel:
    """A WhisperModel from the models dir (or an absolute path), on CPU unless a GPU is asked."""
    from faster_whisper import WhisperModel

    given = Path(model)
    path = given if given.is_absolute() else model_dir(settings.resolved_models_dir, model)
    device = settings.whisper_device
    compute = "float16" if device == "cuda" else "int8"
    return WhisperModel(
        str(path), device=device, compute_type=compute, cpu_threads=settings.whisper_threads
    )


def _words(segments: Any) -> list[Word]:
    words: list[Word] = []
    for segment in segments:
        for word in segment.words or []:
            start, end = float(word.start), float(word.end)
            words.append(
                Word(
                    start=round(start, 3),
                    end=round(max(end, start), 3),
                    text=str(word.word),
                    probability=min(1.0, max(0.0, float(word.probability))),
                )
            )
    return words


NO_SPEECH = 0.6
LOW_LOGPROB = -1.0
LOOPING = 2.4  # Whisper's compression-ratio threshold: above it the decode repeats itself


def _hallucinated(segment: Any) -> bool:
    """Whisper's own rules for a failed decode of likely silence: a low-confidence decode, or a
    repetition loop (which Whisper would resample at a higher temperature; decoding stays at
    temperature 0 here so that the same audio always gives the same lines)."""
    failed = segment.avg_logprob < LOW_LOGPROB or segment.compression_ratio > LOOPING
    return bool(segment.no_speech_prob > NO_SPEECH and failed)


class FasterWhisperTranscriber(Transcriber):
    """Word-timestamped recognition with Whisper's language identification."""

    name = "faster_whisper"

    def __init__(self, settings: Settings, model: str) -> None:
        self.model_name = model
        self._model = load_whisper(settings, model)

    def transcribe(self, audio: Path, language: str | None = None) -> Transcript:
        """Recognise ``audio`` (any ffmpeg-readable file) into dub lines."""
        english_only = self.model_name.endswith(".en")
        try:
            segments, info = self._model.transcribe(
                str(audio),
                language="en" if english_only else language,
                word_timestamps=True,
                beam_size=5,
                temperature=0.0,  # no fallback sampling: the same audio gives the same lines
                vad_filter=False,
                condition_on_previous_text=False,
            )
            words = _words(segment for segment in segments if not _hallucinated(segment))
        except (RuntimeError, ValueError, OSError) as exc:
            raise TranscriptionError(f"faster-whisper failed on {audio.name}: {exc}") from exc
        return Transcript(
            language=str(info.language),
            language_probability=round(float(info.language_probability), 4),
            lines=tuple(split_into_dub_lines(words)),
            model=self.model_name,
        )

    def supported_languages(self) -> frozenset[str]:
        """Whisper's language codes (only ``en`` for an English-only model)."""
        return frozenset(self._model.supported_languages)

    def detect_language(self, audio: Path) -> tuple[str, float]:
        """Whisper's language identification on the first 30 s."""
        if self.model_name.endswith(".en"):
            return "en", 1.0
        from faster_whisper import decode_audio

        samples = decode_audio(str(audio), sampling_rate=16000)[: 30 * 16000]
        language, probability, _ = self._model.detect_language(audio=samples)
        return str(language), round(float(probability), 4)
