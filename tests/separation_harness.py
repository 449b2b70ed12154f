"""Separation measured on mixes built from known parts: clean speech plus a music or noise bed.

Reusable by the bench: ``python -m tests.separation_harness [provider ...]`` prints the table.

- **SI-SDR improvement** (Le Roux et al., 2019): SI-SDR of the vocals stem against the clean
  speech minus that of the mix; how much cleaner the speech got.
- **Background SI-SDR gain**: the same for the background stem against the bed: a separator
  cannot score on leakage by silencing the background.
- **Speech leakage**: the speech energy left in the background stem relative to the speech
  energy in the mix (0 dB: untouched, as a plain copy of the mix). Per 0.5 s frame, the energy
  of the stem's projection onto the clean speech; frames allow a time-varying gain (ducking)
  and are long enough that the bed's chance correlation with the speech stays far below the
  figures measured (``floor``: the same measure on the bed alone).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from localization_core.audio import read_audio, write_audio
from localization_core.providers.separation.registry import create_separator
from localization_core.settings import Settings

RATE = 48000
LEAK_FRAME = RATE // 2
SPEECH = ("speech_en_jfk.flac", "speech_fr.flac", "speech_de.flac")
BEDS = ("music", "noise")
BED_LEVELS_DB = (0.0, -6.0, -12.0)
MEDIA = Path(__file__).parent / "media"

Signal = npt.NDArray[np.float32]


def rms(x: Signal) -> float:
    """Root mean square."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def si_sdr(estimate: Signal, reference: Signal) -> float:
    """Scale-invariant signal-to-distortion ratio in dB."""
    scale = np.dot(estimate, reference) / (np.dot(reference, reference) + 1e-20)
    target = scale * reference
    return float(10 * np.log10(np.sum(target**2) / (np.sum((estimate - target) ** 2) + 1e-20)))


def speech_energy(stem: Signal, speech: Signal) -> float:
    """Energy of ``stem``'s per-frame projection onto ``speech``."""
    total = 0.0
    for start in range(0, len(speech) - LEAK_FRAME + 1, LEAK_FRAME):
        ref, part = speech[start : start + LEAK_FRAME], stem[start : start + LEAK_FRAME]
        power = float(np.dot(ref, ref))
        if power > 0:
            total += float(np.dot(part, ref)) ** 2 / power
    return total


def leakage_db(stem: Signal, speech: Signal, mix: Signal) -> float:
    """Speech energy in ``stem`` relative to the speech energy in ``mix``, in dB."""
    return 10 * float(np.log10(speech_energy(stem, speech) / speech_energy(mix, speech) + 1e-20))


def music_bed(frames: int, seed: int = 0) -> Signal:
    """A synthetic music bed: a new four-note chord of decaying harmonic tones every 0.5 s."""
    rng = np.random.default_rng(seed)
    out = np.zeros(frames, dtype=np.float64)
    note = RATE // 2
    t = np.arange(note) / RATE
    for start in range(0, frames, note):
        chord = np.zeros(note)
        for semitone in rng.choice(24, size=4, replace=False):
            f0 = 110.0 * 2 ** (semitone / 12)
            chord += sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        chord *= np.exp(-3.0 * t)
        out[start : start + note] = chord[: frames - start]
    return out.astype(np.float32)


def noise_bed(frames: int, seed: int = 0) -> Signal:
    """Pink noise (1/f power), like room tone and crowd noise."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(frames))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, frames).astype(np.float32)


def load_speech(name: str) -> Signal:
    """A clean recording from tests/media as 48 kHz mono, resampled with ffmpeg."""
    from localization_core import media

    with tempfile.TemporaryDirectory() as scratch:
        path = media.resample_audio(MEDIA / name, Path(scratch) / "s.wav", rate=RATE, channels=1)
        samples, _ = read_audio(path, mono=True)
    return samples


def build_mix(speech: Signal, bed: str, level_db: float) -> tuple[Signal, Signal]:
    """The mix (speech plus the bed ``level_db`` relative to the speech) and the scaled bed."""
    make = music_bed if bed == "music" else noise_bed
    noise = make(len(speech))
    noise *= rms(speech) / rms(noise) * 10 ** (level_db / 20)
    mix = speech + noise
    peak = float(np.max(np.abs(mix)))
    if peak > 0.99:  # keep the file unclipped; the measures are scale-invariant
        return mix * (0.99 / peak), noise * (0.99 / peak)
    return mix, noise


@dataclass(frozen=True)
class Measure:
    """One separator on one built mix."""

    provider: str
    method: str
    speech: str
    bed: str
    level_db: float
    sdr_gain_db: float
    leakage_db: float
    floor_db: float
    bed_gain_db: float


def measure(
    provider: str, speech_name: str, speech: Signal, bed: str, level_db: float, work: Path
) -> Measure:
    """Separate the dual-mono mix of ``speech`` and ``bed`` and measure both stems."""
    mix, noise = build_mix(speech, bed, level_db)
    scale = float(np.dot(mix - noise, speech) / np.dot(speech, speech))
    clean = speech * scale
    path = write_audio(work / f"mix-{bed}{level_db:g}.wav", np.stack([mix, mix], axis=1), RATE)
    result = create_separator(Settings(SEPARATOR_PROVIDER=provider)).separate(
        path, work / f"{provider}-{bed}{level_db:g}"
    )
    vocals = _mono_at_rate(Path(result.vocals_path), len(mix))
    background = _mono_at_rate(Path(result.background_path), len(mix))
    return Measure(
        provider=provider,
        method=result.method,
        speech=speech_name,
        bed=bed,
        level_db=level_db,
        sdr_gain_db=si_sdr(vocals, clean) - si_sdr(mix, clean),
        leakage_db=leakage_db(background, clean, mix),
        floor_db=leakage_db(noise, clean, mix),
        bed_gain_db=si_sdr(background, noise) - si_sdr(mix, noise),
    )


def _mono_at_rate(path: Path, frames: int) -> Signal:
    samples, rate = read_audio(path, mono=True)
    assert rate == RATE, f"{path.name} is at {rate} Hz"
    out = np.zeros(frames, dtype=np.float32)
    out[: min(frames, len(samples))] = samples[:frames]
    return out


def table(providers: tuple[str, ...], work: Path) -> list[Measure]:
    """Every provider on every speech x bed x level mix."""
    rows = []
    for name in SPEECH:
        speech = load_speech(name)
        for bed in BEDS:
            for level in BED_LEVELS_DB:
                rows += [measure(p, name, speech, bed, level, work) for p in providers]
    return rows


def markdown(rows: list[Measure]) -> str:
    """Mean per provider x bed x level over the speech recordings, as a markdown table."""
    lines = [
        "| separator (method) | bed | bed level | vocals SI-SDR gain | speech leakage | floor"
        " | background SI-SDR gain |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r.provider, r.method, r.bed, r.level_db) for r in rows}, key=str)
    for key in keys:
        provider, method, bed, level = key
        group = [r for r in rows if (r.provider, r.method, r.bed, r.level_db) == key]
        lines.append(
            f"| {provider} ({method}) | {bed} | {level:g} dB"
            f" | {_mean(group, 'sdr_gain_db'):+.1f} dB | {_mean(group, 'leakage_db'):.1f} dB"
            f" | {_mean(group, 'floor_db'):.1f} dB | {_mean(group, 'bed_gain_db'):+.1f} dB |"
        )
    return "\n".join(lines)


def _mean(rows: list[Measure], field: str) -> float:
    return float(np.mean([getattr(row, field) for row in rows]))


def main(argv: list[str]) -> None:
    """Print the table for the providers named (default: ffmpeg and auto)."""
    providers = tuple(argv) or ("ffmpeg", "auto")
    with tempfile.TemporaryDirectory() as work:
        print(markdown(table(providers, Path(work))))


if __name__ == "__main__":
    main(sys.argv[1:])
