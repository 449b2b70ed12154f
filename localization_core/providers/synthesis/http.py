"""Voice cloning on a GPU service over HTTP: one multipart POST per line, a WAV back.

The contract (README, "TTS service contract"): ``POST {TTS_HTTP_URL}`` with form fields
``text``, ``language`` and ``ref_text`` and the file ``ref_audio`` (the speaker's reference
clip, WAV); the reply is ``audio/wav`` at any rate, mono or not, with or without a length in
its header (a streamed WAV). An XTTS, F5-TTS or CosyVoice server behind a thin adapter speaks
it; ``localization_core.tts_server`` is the reference implementation with a CPU voice.
Transient failures are retried (``http_retry``), then raised as ``GpuServiceError``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from localization_core import media
from localization_core.errors import LocalizationError, TTSGenerationError
from localization_core.providers.http_retry import post, with_retries
from localization_core.providers.synthesis.base import Synthesizer, VoiceHint

PIPELINE_RATE = 48000


def is_wav(data: bytes) -> bool:
    """RIFF/WAVE (or RF64) header: what the contract promises."""
    return len(data) > 12 and data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE"


class HttpSynthesizer(Synthesizer):
    """A remote voice-cloning service; output normalized to mono float32 at 48 kHz."""

    name = "http"

    def __init__(
        self, *, url: str, api_key: str | None, timeout_s: float, retry_s: float, voice: str
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url
        self.voice = voice
        self.retry_s = retry_s
        self._http = httpx.Client(timeout=timeout_s, headers=headers)

    def signature(self, language: str, voice: VoiceHint) -> str:
        """The service's declared voice model (``TTS_HTTP_VOICE``) and the language; the
        reference clip is keyed through the hint."""
        del voice
        return f"http|{self.voice}|{language.lower()}"

    def describe(self, language: str) -> str:
        """A clone of the speaker's reference clip by the service's model."""
        del language
        return f"{self.voice} over HTTP (cloned from the speaker's reference clip)"

    def synthesize(self, text: str, language: str, voice: VoiceHint, out_path: Path) -> Path:
        """Ask the service for ``text`` in the speaker's voice; write it as float WAV."""
        spoken = " ".join(text.split())
        if not any(ch.isalnum() for ch in spoken):
            raise TTSGenerationError(-1, "nothing to say: the line has no words")
        data = with_retries(
            lambda: self._request(spoken, language, voice),
            retry_s=self.retry_s,
            service="TTS service",
        )
        return self._normalized(data, out_path)

    def _request(self, text: str, language: str, voice: VoiceHint) -> bytes:
        form = {"text": text, "language": language, "ref_text": voice.reference_text or ""}
        files = {}
        if voice.reference_audio:
            ref = Path(voice.reference_audio)
            files["ref_audio"] = (ref.name, ref.read_bytes(), "audio/wav")
        response = post(self._http, self.url, data=form, files=files or None)
        if response.status_code >= 400:
            raise TTSGenerationError(
                -1,
                f"TTS service refused the line: HTTP {response.status_code} {response.text[:200]}",
            )
        if not is_wav(response.content):
            kind = response.headers.get("content-type", "no content type")
            raise TTSGenerationError(-1, f"TTS service answered with {kind}, not a WAV")
        return response.content

    @staticmethod
    def _normalized(data: bytes, out_path: Path) -> Path:
        """Mono float32 at the pipeline rate; ffmpeg reads streamed WAVs (no length) too."""
        with tempfile.TemporaryDirectory(dir=out_path.parent) as scratch:
            raw = Path(scratch) / "reply.wav"
            raw.write_bytes(data)
            try:
                return media.resample_audio(raw, out_path, rate=PIPELINE_RATE, channels=1)
            except LocalizationError as exc:
                raise TTSGenerationError(-1, f"TTS service sent an unreadable WAV: {exc}") from exc
