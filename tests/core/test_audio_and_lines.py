"""Energy spans, pitch, and dub-line splitting."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from localization_core.audio import (
    LEVEL_BLOCK_FRAMES,
    duck_gain,
    energy_spans,
    frame_levels_db,
    median_pitch_hz,
    read_audio,
    rms_db,
    write_audio,
)
from localization_core.domain import Span, Word
from localization_core.dub_lines import split_into_dub_lines

RATE = 16000


def tone(seconds: float, hz: float = 200.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def test_energy_spans_find_bursts_with_hangover() -> None:
    signal = np.concatenate([quiet(1.0), tone(1.0), quiet(2.0), tone(0.5), quiet(1.0)])
    spans = energy_spans(signal, RATE, hangover_s=0.2)
    assert len(spans) == 2
    assert spans[0].start == pytest.approx(1.0, abs=0.03)
    assert spans[0].end == pytest.approx(2.2, abs=0.03)
    assert spans[1].start == pytest.approx(4.0, abs=0.03)
    assert spans[1].end == pytest.approx(4.7, abs=0.03)


def test_energy_spans_of_silence_and_empty() -> None:
    assert energy_spans(quiet(2.0), RATE) == []
    assert energy_spans(np.zeros(0, dtype=np.float32), RATE) == []
    assert frame_levels_db(np.zeros(10, dtype=np.float32), RATE).size == 0


def test_energy_runs_to_the_end() -> None:
    spans = energy_spans(np.concatenate([quiet(1.0), tone(1.0)]), RATE)
    assert spans[-1].end == pytest.approx(2.0, abs=0.03)


def test_levels_and_pitch() -> None:
    assert rms_db(np.zeros(0, dtype=np.float32)) == -200.0
    assert rms_db(tone(1.0, level=1.0)) == pytest.approx(-3.01, abs=0.05)
    assert median_pitch_hz(tone(1.0, hz=150.0), RATE) == pytest.approx(150.0, rel=0.03)
    assert median_pitch_hz(tone(0.01), RATE) is None
    assert (
        median_pitch_hz(np.random.default_rng(1).normal(size=RATE).astype(np.float32), RATE) is None
    )


def test_write_audio_round_trips(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "t.wav", tone(0.5), RATE)
    samples, rate = read_audio(path, mono=True)
    assert rate == RATE and samples.shape == (RATE // 2,)
    assert [p.name for p in tmp_path.iterdir()] == ["t.wav"]


def w(start: float, end: float, text: str) -> Word:
    return Word(start=start, end=end, text=text)


def test_lines_split_at_pauses_and_sentence_ends() -> None:
    words = [
        w(0.0, 0.4, " Hello"),
        w(0.4, 0.8, " there."),
        w(0.9, 1.2, " How"),
        w(1.2, 1.5, " are"),
        w(2.1, 2.4, " you"),
        w(2.4, 2.6, " today"),
    ]
    lines = split_into_dub_lines(words)
    assert [line.text for line in lines] == ["Hello there.", "How are", "you today"]
    assert [line.id for line in lines] == [1, 2, 3]
    assert lines[1].slot.duration == pytest.approx(0.6)


def test_long_lines_split_at_comma_or_widest_gap() -> None:
    words = [w(i * 0.5, i * 0.5 + 0.45, f" w{i}") for i in range(24)]
    words[9] = w(4.5, 4.95, " w9,")
    lines = split_into_dub_lines(words, max_line_s=8.0)
    assert all(line.end - line.start <= 8.0 for line in lines)
    assert lines[0].text.endswith("w9,")
    assert sum(len(line.words) for line in lines) == 24


def test_blank_words_are_skipped() -> None:
    assert split_into_dub_lines([w(0, 1, "  ")]) == []


def test_levels_and_ducking_in_blocks_match_the_whole_track() -> None:
    """What lets the dub's mix run a block at a time: levels measured in blocks of frames are
    the per-frame levels, and the ducking gain of consecutive blocks joins into the gain of the
    whole track (its smoothing reads the ramp before each block)."""
    rng = np.random.default_rng(7)
    hop = round(0.02 * RATE)
    signal = (rng.standard_normal(hop * (LEVEL_BLOCK_FRAMES + 100)) * 0.1).astype(np.float32)
    frames = signal.reshape(-1, hop).astype(np.float64)
    direct = 20 * np.log10(np.maximum(np.sqrt(np.mean(frames**2, axis=1)), 1e-10))
    assert np.array_equal(frame_levels_db(signal, RATE), direct.astype(np.float32))

    spans = [Span(start=0.0, end=0.3), Span(start=0.95, end=1.42), Span(start=2.0, end=3.1)]
    whole = duck_gain(spans, 3 * RATE, RATE, -12.0)
    edges = [0, 100, 1000, RATE, int(1.4 * RATE), 3 * RATE]
    joined = np.concatenate(
        [duck_gain(spans, b - a, RATE, -12.0, start=a) for a, b in itertools.pairwise(edges)]
    )
    assert whole[int(0.1 * RATE)] == pytest.approx(10 ** (-12 / 20), abs=1e-6)
    assert whole[int(0.7 * RATE)] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(joined, whole, atol=1e-6)
