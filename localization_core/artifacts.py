"""Stage outputs: the JSON artifacts each asset writes. Media live in storage under their keys."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from localization_core.domain import (
    Frozen,
    MediaProbe,
    SeparationResult,
    Span,
    Transcript,
    Translation,
)
from localization_core.presets import Tuning


class SourceVideo(Frozen):
    """An ingested upload: the stored copy and what probing it told."""

    video_id: str
    key: str
    filename: str
    version: str
    probe: MediaProbe
    source_language: str | None = None


class Stems(Frozen):
    """Stored vocals/background stems and how they were made."""

    vocals_key: str
    background_key: str
    speech_key: str
    separation: SeparationResult


class FaceTrack(Frozen):
    """Where an engine-usable frontal face is visible."""

    fps: float
    frame_count: int
    sample_interval_s: float
    samples: int = Field(description="detector calls (samples, shot cuts, bisection steps)")
    faceless_spans: tuple[Span, ...] = ()
    profile_spans: tuple[Span, ...] = ()
    shot_cuts: tuple[float, ...] = ()
    boxes: tuple[tuple[float, int, int, int, int], ...] = Field(
        (), description="(time, x, y, w, h) of the largest frontal face, per frame with one"
    )
    seconds_per_minute: float = 0.0


class ReviewDecision(Frozen):
    """The review gate of one localization."""

    policy: Literal["auto", "required"]
    status: Literal["approved", "awaiting_review"]
    translation: Translation = Field(description="the translation as reviewers left it")
    note: str = ""
    edited_lines: tuple[int, ...] = Field((), description="ids of the lines a reviewer changed")
    review: str = Field("", description="digest of the review state (approval and edits)")


class LineFit(Frozen):
    """What happened to one dub line's synthesized audio."""

    id: int
    slot: Span
    synthesized_s: float = 0.0
    placed_s: float = 0.0
    action: Literal["fit", "stretch", "compress", "cut", "silence", "empty"] = "fit"
    ratio: float = 1.0
    borrowed_s: float = 0.0
    cut: bool = Field(False, description="overflow cut at the next line: flagged, not failed")
    failed: bool = Field(False, description="synthesis failed: the line is silence")
    shortened: bool = False
    spoken_text: str = Field("", description="the translator's shorter wording, when shortened")
    reason: str = ""
    key: str | None = None
    cached: bool = Field(False, description="every clip of the line came from the TTS cache")
    speaker: str = "S1"
    voice: str = Field("", description="the engine and parameters the line was spoken with")


class DubTrack(Frozen):
    """The dub of one localization: fitted lines, the voice track and the final mix."""

    language: str
    voice_key: str
    mix_key: str
    lines: tuple[LineFit, ...] = ()
    loudness_lufs: float = 0.0
    failed_lines: int = 0
    has_speech: bool = True
    synthesizer: str = ""
    # what spoke the dub and how close to the speaker it is (stock voice, pitch-matched, clone)
    voice: str = ""
    synthesized_lines: int = Field(0, description="lines the synthesizer spoke (not cached)")
    # each speaker's voice as the engine speaks it (its parameters, before a line's own pace)
    voices: dict[str, str] = Field(default_factory=dict)


class SyncWindow(Frozen):
    """One span of source time handed to the lip-sync engine (or passed through)."""

    index: int
    start: float
    end: float
    mode: Literal["sync", "dub_only"] = "sync"
    cache_key: str = ""
    tuning: Tuning | None = Field(None, description="the preset's tuning the engine runs with")


class SyncPlan(Frozen):
    """Windows for the lip-sync stage with their statistics."""

    duration: float
    fps: float
    engine: str
    preset: str = "none"
    note: str = Field("", description="why windows were left dub-only as a whole, if they were")
    windows: tuple[SyncWindow, ...] = ()
    frames_total: int = 0
    frames_in_windows: int = 0
    faceless_frames_excluded: int = 0
    frames_speaking: int = Field(0, description="frames inside the padded speech spans")
    frames_speech_bound: int | None = Field(
        None,
        description="frames inside the dub's own speech (line slots and energy spans, unpadded)"
        " that show an engine-usable face: what a speech-only pipeline sends at the least"
        " (None in plans made before it was counted)",
    )


class Piece(Frozen):
    """One span of a window as the engine last saw it: synced, or left dub-only and why."""

    start: float
    end: float
    synced: bool
    reason: str = ""


class SegmentResult(Frozen):
    """The outcome of one lip-sync window."""

    index: int
    start: float
    end: float
    cache_key: str
    key: str | None = None
    engine: str = ""
    status: Literal["synced", "dub_only", "cached"] = "synced"
    seconds: float = 0.0
    frames: int = 0
    pieces: tuple[Piece, ...] = Field((), description="spans the engine ran on, in order")
    engine_calls: int = 0
    engine_failures: int = Field(0, description="engine calls that found no usable face")
    engine_seconds: float = Field(
        0.0, description="seconds inside engine calls; 0 for a cached or dub-only window"
    )
    bisect_depth: int = 0

    @property
    def fallback_reasons(self) -> str:
        """Why pieces of this window stayed dub-only, one reason per piece."""
        return "; ".join(
            f"{p.start:.2f}-{p.end:.2f} s: {p.reason}" for p in self.pieces if not p.synced
        )


class LipSync(Frozen):
    """The picture of one localization: per-segment table and the composited video."""

    video_key: str
    segments: tuple[SegmentResult, ...] = ()
    composited: bool = False
    render: Literal["none", "smart", "full"] = Field(
        "none", description="smart: untouched GOPs copied; full: the picture re-encoded once"
    )
    frames_reencoded: int = 0


class LocalizedVideo(Frozen):
    """Delivered files of one localization."""

    video_key: str
    srt_key: str
    vtt_key: str
    report_key: str
    duration: float
    has_speech: bool
    frame_count: int | None = None


class VoiceRef(Frozen):
    """One speaker's reference clip and its transcript."""

    speaker: str
    key: str
    start: float = 0.0
    end: float = 0.0
    text: str
    vad_coverage: float = Field(ge=0.0, le=1.0)
    level_db: float = 0.0
    clipped_share: float = 0.0
    source: str = Field("vocals", description="'vocals' (chosen from the stem) or 'user'")
    digest: str = Field("", description="sha256 of the clip's WAV bytes")
    note: str = ""

    @property
    def duration(self) -> float:
        """Length of the clip in seconds."""
        return round(self.end - self.start, 3)


class Speaker(Frozen):
    """One speaker of a video as the transcript has them: talk time, pitch and rank."""

    speaker: str
    talk_s: float = Field(ge=0.0)
    lines: int = Field(ge=0)
    median_pitch_hz: float | None = None
    # 0 for the speaker who talks most, 1 for the next, ...: which of the engine's voices the
    # speaker gets, so that no two speakers of a video share one
    ordinal: int = Field(0, ge=0)


class VoiceRefs(Frozen):
    """The reference clip per speaker id; a speaker without 6 s of speech has none."""

    refs: tuple[VoiceRef, ...] = ()
    missing: dict[str, str] = Field(default_factory=dict)
    speakers: tuple[Speaker, ...] = ()

    def of(self, speaker: str) -> VoiceRef | None:
        """The reference of ``speaker``, if one was found or given."""
        return next((ref for ref in self.refs if ref.speaker == speaker), None)

    def profile(self, speaker: str) -> Speaker | None:
        """What the transcript says of ``speaker`` (None for one a reviewer introduced)."""
        return next((one for one in self.speakers if one.speaker == speaker), None)


ARTIFACT_TYPES: dict[str, type[Frozen]] = {
    cls.__name__: cls
    for cls in (
        SourceVideo,
        Stems,
        Transcript,
        VoiceRefs,
        FaceTrack,
        Translation,
        ReviewDecision,
        DubTrack,
        SyncPlan,
        LipSync,
        LocalizedVideo,
    )
}
