"""Speaker diarization contract: who speaks when, within the speech the transcript found."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from localization_core.domain import Span, Turn


class Diarizer(ABC):
    """Labels stretches of speech with speaker ids (``S1``, ``S2``, ... by first appearance)."""

    name: str = ""

    @abstractmethod
    def diarize(
        self, audio: Path, speech: Sequence[Span], speakers: int | None = None
    ) -> tuple[Turn, ...]:
        """The speaker turns of ``audio`` (the vocals) within ``speech``, in time order.

        ``speech`` is where the transcript heard words; ``speakers`` fixes the count (None: the
        diarizer decides)."""


def by_first_appearance(turns: Sequence[Turn]) -> tuple[Turn, ...]:
    """``turns`` in time order with their speakers renamed ``S1``, ``S2``, ... in order of first
    appearance (the diarizer's own labels are arbitrary)."""
    ordered = sorted(turns, key=lambda turn: (turn.start, turn.end))
    names: dict[str, str] = {}
    for turn in ordered:
        names.setdefault(turn.speaker, f"S{len(names) + 1}")
    return tuple(turn.model_copy(update={"speaker": names[turn.speaker]}) for turn in ordered)
