"""Frozen domain models shared by every stage; all of them round-trip through JSON."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Seconds = Annotated[float, Field(ge=0.0)]


class Frozen(BaseModel):
    """Immutable base: stage outputs are values, never mutated after creation."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Span(Frozen):
    """A half-open time interval [start, end) in seconds of source time."""

    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end < self.start:
            raise ValueError(f"span ends before it starts: {self.start} > {self.end}")
        return self

    @property
    def duration(self) -> float:
        """Length of the span in seconds."""
        return self.end - self.start


class Turn(Span):
    """A stretch of speech by one speaker (``S1``, ``S2``, ... in order of first appearance)."""

    speaker: str


class AudioStream(Frozen):
    """One audio stream of a media file."""

    index: int
    codec: str
    channels: int = Field(ge=0)
    sample_rate: int = Field(ge=0)
    channel_layout: str | None = None


class MediaProbe(Frozen):
    """What ffprobe tells about a media file, validated."""

    duration: Seconds
    has_video: bool
    width: int | None = None
    height: int | None = None
    fps_num: int | None = None
    fps_den: int | None = None
    vfr: bool = False
    rotation: int = Field(0, description="clockwise degrees to rotate for display")
    video_codec: str | None = None
    frame_count: int | None = None
    audio_streams: tuple[AudioStream, ...] = ()
    video_duration: Seconds | None = Field(None, description="the picture's own length")
    audio_duration: Seconds | None = Field(None, description="the first audio stream's length")

    @property
    def fps(self) -> Fraction | None:
        """The exact frame rate as a fraction (e.g. 30000/1001)."""
        if self.fps_num is None or not self.fps_den:
            return None
        return Fraction(self.fps_num, self.fps_den)

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Width and height as shown to a viewer (swapped for 90/270 degree rotation)."""
        if self.width is None or self.height is None:
            return None
        if self.rotation % 180 == 90:
            return self.height, self.width
        return self.width, self.height

    @property
    def picture_duration(self) -> float:
        """What a localization covers: the picture's length (the whole file without one)."""
        return self.video_duration if self.has_video and self.video_duration else self.duration

    @property
    def has_audio(self) -> bool:
        """True when at least one audio stream exists."""
        return bool(self.audio_streams)


class Word(Frozen):
    """One recognised word with its timing."""

    start: Seconds
    end: Seconds
    text: str
    probability: float = Field(1.0, ge=0.0, le=1.0)


class Slotted(Frozen):
    """A numbered line with a time slot in source time."""

    id: int = Field(ge=1)
    start: Seconds
    end: Seconds
    speaker: str = "S1"

    @property
    def slot(self) -> Span:
        """The time slot the dub must fit into."""
        return Span(start=self.start, end=self.end)


class DubLine(Slotted):
    """The unit of translation, synthesis and review: one speaker, one slot, one text."""

    text: str
    words: tuple[Word, ...] = ()


class Transcript(Frozen):
    """Dub lines of a video plus the detected (or overridden) language."""

    language: str
    language_probability: float = Field(ge=0.0, le=1.0)
    lines: tuple[DubLine, ...] = ()
    model: str = ""
    # what told the speakers apart (``single``: everyone is S1)
    diarizer: str = ""

    @property
    def has_speech(self) -> bool:
        """False for a video with nothing to dub."""
        return bool(self.lines)


class TranslatedLine(Slotted):
    """A dub line in the target language, with the time it may take."""

    source_text: str
    text: str
    # what a reviewer should look at (a glossary term the model missed twice)
    flags: tuple[str, ...] = ()
    # where the source speech was, once a reviewer moved the line (the voice keeps its pace)
    source_slot: Span | None = None

    @property
    def budget(self) -> float:
        """Seconds available for the spoken translation (the source slot)."""
        return self.end - self.start


class Translation(Frozen):
    """One translated line per source dub line, same ids."""

    source_language: str
    target_language: str
    lines: tuple[TranslatedLine, ...] = ()
    provider: str = ""
    glossary: str = Field("", description="sha256 of the glossary used, empty without one")
    model_requests: int = Field(0, description="requests sent to a model (0: all cached)")


class SeparationResult(Frozen):
    """Where the stems went and whether separation had to degrade."""

    vocals_path: str
    background_path: str
    degraded: bool = False
    method: str = ""
    note: str = ""
