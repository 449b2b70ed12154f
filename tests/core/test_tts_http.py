"""The `http` synthesizer against the reference TTS service over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import soundfile as sf

from localization_core.errors import GpuServiceError, TTSGenerationError
from localization_core.providers.synthesis.base import VoiceHint
from localization_core.providers.synthesis.espeak import EspeakSynthesizer
from localization_core.providers.synthesis.http import HttpSynthesizer
from localization_core.providers.synthesis.registry import create_synthesizer
from localization_core.settings import Settings
from localization_core.tts_server import create_app
from tests import tts_contract
from tests.conftest import media_file

LINE = "Ask what you can do for your country."


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[str, tts_contract.Faults]]:
    """The reference service (espeak-ng behind it: fast) behind the fault injector."""
    faults = tts_contract.Faults(create_app(EspeakSynthesizer()))
    with tts_contract.serve(faults) as url:
        yield url, faults


@pytest.fixture(scope="module")
def streaming_service() -> Iterator[str]:
    """The reference service answering like XTTS: 24 kHz, streamed (no length in the header)."""
    with tts_contract.serve(create_app(EspeakSynthesizer(), rate=24000, stream=True)) as url:
        yield url


def synthesizer(url: str, *, timeout_s: float = 30.0, retry_s: float = 10.0) -> HttpSynthesizer:
    settings = Settings(
        TTS_PROVIDER="http",
        TTS_HTTP_URL=url,
        TTS_HTTP_TIMEOUT_S=timeout_s,
        TTS_HTTP_RETRY_S=retry_s,
        TTS_HTTP_VOICE="espeak-reference",
    )
    synth = create_synthesizer(settings)
    assert isinstance(synth, HttpSynthesizer)
    return synth


def reference(tmp_path: Path) -> VoiceHint:
    """The JFK recording as the speaker's reference clip, with its words."""
    clip = tmp_path / "ref.flac"
    clip.write_bytes(media_file("speech_en_jfk.flac").read_bytes())
    return VoiceHint(reference_audio=str(clip), reference_text="ask not what your country")


def assert_normalized(path: Path) -> float:
    """The reply as the pipeline wants it: mono float32 at 48 kHz, audible; its length."""
    info = sf.info(str(path))
    assert (info.channels, info.samplerate, info.subtype) == (1, 48000, "FLOAT"), info
    assert info.duration > 0.5
    return float(info.duration)


def test_a_line_comes_back_as_a_normalized_clip(
    service: tuple[str, tts_contract.Faults], tmp_path: Path
) -> None:
    url, _ = service
    out = synthesizer(f"{url}/synthesize").synthesize(
        LINE, "en", reference(tmp_path), tmp_path / "a.wav"
    )
    assert_normalized(out)


def test_a_busy_service_is_retried_until_it_answers(
    service: tuple[str, tts_contract.Faults], tmp_path: Path
) -> None:
    url, faults = service
    out = synthesizer(f"{url}/fault/503-once/synthesize").synthesize(
        LINE, "en", reference(tmp_path), tmp_path / "b.wav"
    )
    assert_normalized(out)
    assert faults.seen["/fault/503-once/synthesize"] == 2


def test_a_service_that_never_answers_in_time_is_a_transient_failure(
    service: tuple[str, tts_contract.Faults], tmp_path: Path
) -> None:
    url, faults = service
    synth = synthesizer(f"{url}/fault/slow/synthesize", timeout_s=0.5, retry_s=2.0)
    started = time.monotonic()
    with pytest.raises(
        GpuServiceError, match="TTS service unavailable after 2 s of retries: timed out"
    ):
        synth.synthesize(LINE, "en", VoiceHint(), tmp_path / "c.wav")
    assert time.monotonic() - started < 2.0 + 0.5 + 8.0  # bounded: the budget, one try, one wait
    assert faults.seen["/fault/slow/synthesize"] >= 2
    assert not (tmp_path / "c.wav").exists()


def test_a_streamed_24khz_reply_is_normalized(streaming_service: str, tmp_path: Path) -> None:
    raw = httpx.post(
        f"{streaming_service}/synthesize", data={"text": LINE, "language": "en"}, timeout=30
    )
    assert raw.content[:4] == b"RIFF" and raw.content[4:8] == b"\xff\xff\xff\xff"  # no length
    out = synthesizer(f"{streaming_service}/synthesize").synthesize(
        LINE, "en", VoiceHint(), tmp_path / "d.wav"
    )
    spoken = assert_normalized(out)
    frames = (len(raw.content) - 44) // 2
    assert spoken == pytest.approx(frames / 24000, abs=0.01)


def test_a_reply_that_is_not_a_wav_is_one_clear_error(
    service: tuple[str, tts_contract.Faults], tmp_path: Path
) -> None:
    url, _ = service
    with pytest.raises(TTSGenerationError, match="answered with text/html, not a WAV"):
        synthesizer(f"{url}/fault/html/synthesize").synthesize(
            LINE, "en", VoiceHint(), tmp_path / "e.wav"
        )


def test_a_refused_line_is_permanent_and_names_the_reason(
    service: tuple[str, tts_contract.Faults], tmp_path: Path
) -> None:
    url, _ = service
    with pytest.raises(TTSGenerationError, match=r"HTTP 422 .*no voice for language"):
        synthesizer(f"{url}/synthesize").synthesize(
            LINE, "xx-unknown", VoiceHint(), tmp_path / "f.wav"
        )


def test_http_needs_a_url() -> None:
    from localization_core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="TTS_HTTP_URL"):
        create_synthesizer(Settings(TTS_PROVIDER="http"))
