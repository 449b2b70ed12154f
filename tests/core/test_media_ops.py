"""Cutting, converting, joining, muxing and loudness on real clips."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from localization_core import media
from localization_core.audio import read_audio
from localization_core.errors import ProcessingError
from tests.conftest import media_file


def stream_facts(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,channels,sample_rate:stream_tags=language,handler_name:stream_disposition=default",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    streams: list[dict[str, Any]] = json.loads(out)["streams"]
    return streams


def test_speech_audio_is_16k_mono(tmp_path: Path) -> None:
    out = media.extract_speech_audio(media_file("speech_de.flac"), tmp_path / "s.wav")
    samples, rate = read_audio(out)
    assert rate == 16000 and samples.shape[1] == 1
    assert len(samples) / rate == pytest.approx(9.34, abs=0.05)
    part = media.extract_speech_audio(
        media_file("speech_de.flac"), tmp_path / "p.wav", start=1.0, end=3.5
    )
    assert media.probe(part).duration == pytest.approx(2.5, abs=0.02)


def test_full_audio_is_stereo_at_source_rate(tmp_path: Path) -> None:
    out = media.extract_full_audio(
        media_file("talking_head_portrait_speech.wav"), tmp_path / "f.wav"
    )
    samples, rate = read_audio(out)
    assert rate == 16000 and samples.shape[1] == 2


def test_cut_and_fps_conversion_and_concat(tmp_path: Path) -> None:
    source = media_file("cuts_faceless_profile_30fps.mp4")
    first = media.cut(source, tmp_path / "a.mp4", 0.0, 2.0)
    second = media.cut(source, tmp_path / "b.mp4", 2.0, 3.0)
    assert media.probe(first).frame_count == 60
    assert media.probe(second).frame_count == 30
    engine = media.convert_fps(first, tmp_path / "a25.mp4", Fraction(25))
    facts = media.probe(engine)
    assert facts.fps == Fraction(25) and facts.frame_count == 50 and not facts.has_audio
    joined = media.concat([first, second], tmp_path / "ab.mp4")
    assert media.probe(joined).frame_count == 90
    with pytest.raises(ProcessingError, match="empty range"):
        media.cut(source, tmp_path / "c.mp4", 2.0, 2.0)
    with pytest.raises(ProcessingError, match="nothing to join"):
        media.concat([], tmp_path / "none.mp4")


def test_mux_puts_the_dub_first(tmp_path: Path) -> None:
    video = media_file("talking_head_square_25fps.mp4")
    dub = media.extract_full_audio(media_file("speech_fr.flac"), tmp_path / "dub.wav")
    original = media.extract_full_audio(video, tmp_path / "orig.wav")
    out = media.mux(
        video,
        [
            media.AudioTrack(path=str(dub), language="eng", title="English dub"),
            media.AudioTrack(path=str(original), language="eng", title="Original"),
        ],
        tmp_path / "out.mp4",
        duration=media.probe(video).picture_duration,
    )
    streams = stream_facts(out)
    assert [s["codec_type"] for s in streams] == ["video", "audio", "audio"]
    assert streams[1]["tags"]["handler_name"] == "English dub"
    assert streams[2]["tags"]["handler_name"] == "Original"
    assert streams[1]["disposition"]["default"] == 1
    assert streams[2]["disposition"]["default"] == 0
    assert media.probe(out).duration == pytest.approx(media.probe(video).duration, abs=0.1)


def test_failed_conversion_is_one_processing_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ProcessingError) as caught:
        media.convert_fps(tmp_path / "missing.mp4", tmp_path / "out.mp4", Fraction(25))
    assert caught.value.stage == "media"
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_loudness_normalization_hits_target(tmp_path: Path, target: float) -> None:
    source = media_file("speech_fr.flac")
    before = media.measure_loudness(source)
    out = media.normalize_loudness(source, tmp_path / "n.wav", target_lufs=target)
    after = media.measure_loudness(out)
    assert abs(after.integrated_lufs - target) < 1.0, (before, after)
    assert after.true_peak_dbtp <= -1.0


def test_silence_is_left_alone(tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=d=1", str(silence)], check=True
    )
    out = media.normalize_loudness(silence, tmp_path / "n.wav")
    assert media.measure_loudness(out).integrated_lufs <= -70
