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


# Whisper's word times come from cross-attention alignment, which can stretch a word across a
# long pause (seen: "Let's go!" given 2.96-7.82 s and the next word 7.82 s, speech resuming at
# 11.3 s, so the dub would start 3.5 s early). A word edge that lies in a silence of at least
# EDGE_SILENCE_S (frames more than SILENCE_DB under the loudest) moves to the speech, less PAD_S.
EDGE_SILENCE_S = 0.5
SILENCE_DB = 40.0
PAD_S = 0.05
FRAME_S = 0.01


def loud_frames(samples: Any, rate: int) -> Any:
    """Per 10 ms frame of mono ``samples``: within SILENCE_DB of the loudest frame."""
    import numpy as np

    size = int(FRAME_S * rate)
    frames = np.asarray(samples[: len(samples) // size * size], dtype=np.float64)
    rms = np.sqrt(np.mean(frames.reshape(-1, size) ** 2, axis=1)) + 1e-12
    level = 20 * np.log10(rms)
    return level > level.max() - SILENCE_DB if len(level) else level > 0


def _silent_word(word: Word, loud: Any, first: int, last: int) -> Word:
    """A word placed wholly in silence: moved onto the edge of the nearest speech when it
    stretches over a long silence or lies far from speech; a short word in a short pause (a
    soft word under the threshold) stays."""
    import numpy as np

    audible = np.flatnonzero(loud)
    before, after = audible[audible < first], audible[audible >= last]
    gap_before = first - before[-1] if before.size else np.inf
    gap_after = after[0] - last if after.size else np.inf
    short = word.end - word.start < EDGE_SILENCE_S
    if short and min(gap_before, gap_after) * FRAME_S < EDGE_SILENCE_S:
        return word
    if gap_before <= gap_after:
        edge = round(float(before[-1] + 1) * FRAME_S + PAD_S, 3)
    else:
        edge = round(float(after[0]) * FRAME_S - PAD_S, 3)
    return word.model_copy(update={"start": edge, "end": edge})


def trim_to_speech(words: list[Word], loud: Any) -> list[Word]:
    """``words`` with each edge that sits in a long silence moved to where the speech is."""
    import numpy as np

    trimmed: list[Word] = []
    for word in words:
        first, last = int(word.start / FRAME_S), int(np.ceil(word.end / FRAME_S))
        active = np.flatnonzero(loud[first:last]) + first
        if active.size == 0:
            trimmed.append(_silent_word(word, loud, first, last))
            continue
        start, end = word.start, word.end
        if active[0] * FRAME_S - start >= EDGE_SILENCE_S:
            start = round(active[0] * FRAME_S - PAD_S, 3)
        if end - (active[-1] + 1) * FRAME_S >= EDGE_SILENCE_S:
            end = round((active[-1] + 1) * FRAME_S + PAD_S, 3)
        trimmed.append(word.model_copy(update={"start": start, "end": end}))
    return trimmed


NO_SPEECH = 0.6
LOW_LOGPROB = -1.0
LOOPING = 2.4  # Whisper's compression-ratio threshold: above it the decode repeats itself


def _hallucinated(segment: Any) -> bool:
    """Whisper's own rules for a failed decode of likely silence: a low-confidence decode, or a
    repetition loop (which Whisper would resample at a higher temperature; decoding stays at
    temperature 0 here so that the same audio always gives the same lines)."""
    failed = segment.avg_logprob < LOW_LOGPROB or segment.compression_ratio > LOOPING
    return bool(segment.no_speech_prob > NO_SPEECH and failed)


def _decoded(audio: Path) -> Any:
    """``audio`` as Whisper hears it: 16 kHz mono float."""
    from faster_whisper import decode_audio

    return decode_audio(str(audio), sampling_rate=16000)


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
            words = trim_to_speech(words, loud_frames(_decoded(audio), 16000))
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
        samples = _decoded(audio)[: 30 * 16000]
        language, probability, _ = self._model.detect_language(audio=samples)
        return str(language), round(float(probability), 4)
