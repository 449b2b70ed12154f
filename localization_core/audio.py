"""Sample-level audio helpers (numpy + soundfile): reading, atomic writing, energy, pitch."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from localization_core.domain import Span

Samples = npt.NDArray[np.float32]
LEVEL_BLOCK_FRAMES = 4096  # frames measured at a time (82 s of 20 ms frames)
_EPS = 1e-10


def read_audio(path: Path, *, mono: bool = False) -> tuple[Samples, int]:
    """Samples as float32 ``(frames, channels)`` (or ``(frames,)`` when ``mono``) and the rate."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    samples: Samples = np.asarray(data, dtype=np.float32)
    if mono:
        return np.asarray(samples.mean(axis=1), dtype=np.float32), int(rate)
    return samples, int(rate)


def write_audio(path: Path, samples: Samples, rate: int) -> Path:
    """Write 32-bit float WAV atomically (temp file in the same directory, then rename).

    The RF64 flavour of WAV: libsndfile stamps plain float WAVs with the time of writing (a PEAK
    chunk), so the same samples would give different bytes on every run. ffmpeg and libsndfile
    read RF64 as WAV.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".wav")
    os.close(fd)
    try:
        sf.write(tmp, samples, rate, subtype="FLOAT", format="RF64")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def rms_db(samples: Samples) -> float:
    """Root-mean-square level in dBFS (-200 for silence)."""
    if samples.size == 0:
        return -200.0
    value = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * float(np.log10(max(value, _EPS)))


def frame_levels_db(samples: Samples, rate: int, frame_s: float = 0.02) -> Samples:
    """Short-frame RMS levels in dBFS of a mono signal (measured a block of frames at a time,
    so an hour of audio needs no hour-long float64 copy)."""
    hop = max(1, round(frame_s * rate))
    count = len(samples) // hop
    levels = np.zeros(count, dtype=np.float32)
    for first in range(0, count, LEVEL_BLOCK_FRAMES):
        last = min(count, first + LEVEL_BLOCK_FRAMES)
        frames = samples[first * hop : last * hop].reshape(last - first, hop).astype(np.float64)
        rms = np.sqrt(np.mean(np.square(frames), axis=1))
        levels[first:last] = 20.0 * np.log10(np.maximum(rms, _EPS))
    return levels


def energy_spans(
    samples: Samples,
    rate: int,
    *,
    frame_s: float = 0.02,
    below_peak_db: float = 30.0,
    floor_db: float = -55.0,
    hangover_s: float = 0.2,
    min_span_s: float = 0.08,
) -> list[Span]:
    """Spans where a mono track is audibly active, judged against the track's own level.

    A frame is active when it is within ``below_peak_db`` of the track's loud level (its 95th
    percentile frame) and above an absolute floor; activity is held ``hangover_s`` after it ends.
    """
    levels = frame_levels_db(samples, rate, frame_s)
    if levels.size == 0:
        return []
    reference = float(np.percentile(levels, 95))
    threshold = max(reference - below_peak_db, floor_db)
    active = levels > threshold
    hold = round(hangover_s / frame_s)
    spans: list[Span] = []
    start: int | None = None
    last_active = -1
    for index, is_active in enumerate(active):
        if is_active:
            if start is None:
                start = index
            last_active = index
        elif start is not None and index - last_active > hold:
            spans.append(_span(start, last_active + 1 + hold, frame_s, len(levels)))
            start = None
    if start is not None:
        spans.append(_span(start, last_active + 1 + hold, frame_s, len(levels)))
    return [span for span in spans if span.duration >= min_span_s]


def _span(first: int, stop: int, frame_s: float, total: int) -> Span:
    return Span(start=round(first * frame_s, 4), end=round(min(stop, total) * frame_s, 4))


def median_pitch_hz(
    samples: Samples, rate: int, *, low: float = 70.0, high: float = 400.0
) -> float | None:
    """Median fundamental frequency of the voiced frames (autocorrelation), None if unvoiced."""
    frame = int(0.04 * rate)
    hop = int(0.02 * rate)
    if len(samples) < frame:
        return None
    min_lag, max_lag = int(rate / high), int(rate / low)
    loud = rms_db(samples) - 15.0
    pitches: list[float] = []
    for begin in range(0, len(samples) - frame, hop):
        chunk = samples[begin : begin + frame].astype(np.float64)
        if rms_db(chunk.astype(np.float32)) < loud:
            continue
        chunk = chunk - chunk.mean()
        corr = np.correlate(chunk, chunk, mode="full")[frame - 1 :]
        if corr[0] <= 0 or max_lag >= len(corr):
            continue
        lag = min_lag + int(np.argmax(corr[min_lag:max_lag]))
        if corr[lag] / corr[0] > 0.5:
            pitches.append(rate / lag)
    return float(np.median(pitches)) if len(pitches) >= 3 else None


def duck_gain(
    spans: list[Span],
    frames: int,
    rate: int,
    duck_db: float,
    *,
    ramp_s: float = 0.1,
    start: int = 0,
) -> Samples:
    """Per-sample gain of samples ``start`` to ``start + frames``: ``duck_db`` inside
    ``spans``, unity outside, smoothed over ``ramp_s`` (the mean of the last ``ramp_s``, so a
    block's gain reads the ``ramp_s`` before it and blocks join seamlessly)."""
    ramp = max(1, int(ramp_s * rate))
    lead = min(ramp, start)
    origin = start - lead
    gain = np.ones(frames + lead, dtype=np.float64)
    for span in spans:
        first, stop = int(span.start * rate) - origin, int(span.end * rate) - origin
        if stop > 0 and first < len(gain):
            gain[max(first, 0) : stop] = 10.0 ** (duck_db / 20.0)
    # before the track's first sample, its first value
    padded = np.concatenate([np.full(ramp - lead, gain[0] if len(gain) else 1.0), gain])
    cumulative = np.cumsum(padded)
    smoothed = (cumulative[ramp:] - cumulative[:-ramp]) / ramp
    return np.asarray(smoothed, dtype=np.float32)
