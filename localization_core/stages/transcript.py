"""`transcript`: speech-to-text with language identification, gated on detection confidence."""

from __future__ import annotations

from localization_core.artifacts import SourceVideo, Stems
from localization_core.domain import Transcript
from localization_core.errors import TranscriptionError
from localization_core.providers.diarization.base import Diarizer
from localization_core.providers.transcription.base import Transcriber
from localization_core.speakers import assign_speakers, speech_spans
from localization_core.workspace import Workspace

MIN_LANGUAGE_PROBABILITY = 0.5


def transcribe(
    workspace: Workspace,
    source: SourceVideo,
    stems: Stems,
    transcriber: Transcriber,
    *,
    diarizer: Diarizer | None = None,
    speakers: int | None = None,
) -> Transcript:
    """Dub lines of the vocals, each with its speaker (``diarizer``; ``speakers`` fixes their
    count); uncertain language detection without an override fails."""
    speech = workspace.local(stems.speech_key)
    transcript = transcriber.transcribe(speech, language=source.source_language)
    if (
        source.source_language is None
        and transcript.has_speech
        and transcript.language_probability < MIN_LANGUAGE_PROBABILITY
    ):
        raise TranscriptionError(
            f"language detection is uncertain ({transcript.language!r} at "
            f"{transcript.language_probability:.2f} < {MIN_LANGUAGE_PROBABILITY}); "
            "register the video with its source language (--from)"
        )
    if diarizer is not None:  # before the cut to the picture, which a split line must keep
        turns = diarizer.diarize(speech, speech_spans(transcript), speakers)
        transcript = assign_speakers(transcript, turns).model_copy(
            update={"diarizer": diarizer.name}
        )
    return within_picture(transcript, source.probe.picture_duration)


def within_picture(transcript: Transcript, end: float) -> Transcript:
    """Only the speech the picture shows: lines past its end are dropped, the last one is
    clipped (audio that outlasts the picture is reported, not localized)."""
    lines = tuple(
        line.model_copy(update={"end": min(line.end, end)})
        for line in transcript.lines
        if line.start < end - 0.05
    )
    if lines == transcript.lines:
        return transcript
    return transcript.model_copy(update={"lines": lines})
