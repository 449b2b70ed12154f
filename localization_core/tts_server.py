"""The reference TTS service: the HTTP contract of the `http` synthesizer, with a CPU voice.

``POST /synthesize`` (multipart form): ``text``, ``language``, optional ``ref_text`` and
``ref_audio`` (the speaker's reference clip). Reply: ``audio/wav``. Behind it is the `piper`
synthesizer (espeak-ng for languages without a neural voice), pitch-matched to the reference
clip: a stand-in that lets the contract be tested and run without a GPU. On a GPU node, an
XTTS, F5-TTS or CosyVoice server that answers the same request clones the voice instead.

``rate`` and ``stream`` make it answer like streaming engines do: resampled (XTTS speaks at
24 kHz) and as a WAV whose header carries no length, sent in chunks.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime

import io
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np

from localization_core.audio import Samples, median_pitch_hz, read_audio
from localization_core.errors import LocalizationError
from localization_core.providers.synthesis.base import Synthesizer, VoiceHint

if TYPE_CHECKING:
    from fastapi import FastAPI, UploadFile

CHUNK_FRAMES = 4096
UNKNOWN_LENGTH = 0xFFFFFFFF


def streamed_wav_header(rate: int) -> bytes:
    """A 16-bit mono PCM WAV header whose sizes say "unknown" (streamed)."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF" + struct.pack("<I", UNKNOWN_LENGTH) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", UNKNOWN_LENGTH)
    )  # fmt: skip


def pcm16(samples: Samples) -> bytes:
    """Little-endian 16-bit PCM of float samples."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def resampled(samples: Samples, rate: int, target: int) -> Samples:
    """``samples`` at ``target`` Hz (polyphase)."""
    if rate == target:
        return samples
    from math import gcd

    from scipy.signal import resample_poly

    step = gcd(rate, target)
    return np.asarray(resample_poly(samples, target // step, rate // step), dtype=np.float32)


def create_app(
    synthesizer: Synthesizer, *, rate: int | None = None, stream: bool = False
) -> "FastAPI":
    """The FastAPI application serving ``synthesizer`` under the TTS contract."""
    from fastapi import FastAPI, File, Form, HTTPException, UploadFile
    from fastapi.responses import Response, StreamingResponse

    app = FastAPI(title="localization reference TTS", version="1")

    app.add_api_route(
        "/health", lambda: {"status": "ok", "synthesizer": synthesizer.name}, methods=["GET"]
    )

    @app.post("/synthesize")
    def synthesize(
        text: Annotated[str, Form()],
        language: Annotated[str, Form()],
        ref_text: Annotated[str, Form()] = "",
        ref_audio: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        with tempfile.TemporaryDirectory() as scratch:
            voice = _voice(ref_audio, ref_text, Path(scratch))
            try:
                out = synthesizer.synthesize(text, language, voice, Path(scratch) / "out.wav")
            except LocalizationError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from exc
            samples, own_rate = read_audio(out, mono=True)
        target = rate or own_rate
        samples = resampled(samples, own_rate, target)
        if stream:
            return StreamingResponse(_chunks(samples, target), media_type="audio/wav")
        return Response(_wav(samples, target), media_type="audio/wav")

    return app


def _voice(ref_audio: "UploadFile | None", ref_text: str, scratch: Path) -> VoiceHint:
    """The hint for the stand-in voice: the reference clip's median pitch."""
    if ref_audio is None:
        return VoiceHint(reference_text=ref_text or None)
    path = scratch / "ref.wav"
    path.write_bytes(ref_audio.file.read())
    samples, rate = read_audio(path, mono=True)
    return VoiceHint(
        median_pitch_hz=median_pitch_hz(samples, rate),
        reference_audio=str(path),
        reference_text=ref_text or None,
    )


def _wav(samples: Samples, rate: int) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def _chunks(samples: Samples, rate: int) -> Iterator[bytes]:
    yield streamed_wav_header(rate)
    for start in range(0, len(samples), CHUNK_FRAMES):
        yield pcm16(samples[start : start + CHUNK_FRAMES])


def serve(host: str, port: int, *, rate: int | None, stream: bool) -> None:
    """Run the reference service with the `piper` synthesizer until interrupted."""
    import uvicorn

    from localization_core.providers.synthesis.piper import PiperSynthesizer

    uvicorn.run(create_app(PiperSynthesizer(), rate=rate, stream=stream), host=host, port=port)
