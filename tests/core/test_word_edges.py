"""Whisper's word times pulled out of long silences (the dub must not start before the speaker)."""

from __future__ import annotations

import numpy as np

from localization_core.domain import Word
from localization_core.providers.transcription.faster_whisper import loud_frames, trim_to_speech

RATE = 16000


def speech_at(*spans: tuple[float, float], total: float = 14.0) -> np.ndarray:
    """A tone where there is speech, digital silence elsewhere."""
    samples = np.zeros(int(total * RATE), dtype=np.float32)
    for start, end in spans:
        t = np.arange(int(start * RATE), int(end * RATE))
        samples[t] = 0.3 * np.sin(2 * np.pi * 220 * t / RATE)
    return samples


def word(start: float, end: float, text: str = "w") -> Word:
    return Word(start=start, end=end, text=text)


def test_a_word_stretched_over_a_pause_ends_with_the_speech() -> None:
    loud = loud_frames(speech_at((0.5, 3.3), (11.3, 13.0)), RATE)
    words = trim_to_speech([word(3.0, 7.8), word(7.8, 11.6)], loud)
    assert (words[0].start, words[0].end) == (3.0, 3.35)
    assert (words[1].start, words[1].end) == (11.25, 11.6)


def test_a_word_wholly_in_a_long_silence_joins_the_nearest_speech() -> None:
    loud = loud_frames(speech_at((0.5, 3.3), (11.3, 13.0)), RATE)
    after, before, far = trim_to_speech([word(3.4, 7.8), word(9.5, 11.2), word(6.0, 6.2)], loud)
    assert (after.start, after.end) == (3.35, 3.35)
    assert (before.start, before.end) == (11.25, 11.25)
    assert (far.start, far.end) == (3.35, 3.35)


def test_words_in_speech_and_short_pauses_keep_their_times() -> None:
    loud = loud_frames(speech_at((0.5, 2.0), (2.3, 4.0)), RATE)
    words = [word(0.5, 1.2), word(1.2, 2.0), word(2.05, 2.25), word(2.3, 4.0)]
    assert trim_to_speech(words, loud) == words
