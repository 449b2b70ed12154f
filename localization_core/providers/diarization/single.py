"""`single`: everyone is one speaker (the default; nothing is loaded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from localization_core.domain import Span, Turn
from localization_core.providers.diarization.base import Diarizer


class SingleSpeaker(Diarizer):
    """Every stretch of speech is ``S1``."""

    name = "single"

    def diarize(
        self, audio: Path, speech: Sequence[Span], speakers: int | None = None
    ) -> tuple[Turn, ...]:
        """One turn of ``S1`` per stretch of speech."""
        del audio, speakers  # nothing to listen to: everyone is one speaker
        return tuple(Turn(start=span.start, end=span.end, speaker="S1") for span in speech)
