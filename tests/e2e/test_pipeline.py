"""Every asset materialized for real clips; the delivery checked the way a user would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import srt

from localization_core.artifacts import DubTrack
from localization_core.domain import Transcript
from localization_core.providers.transcription.base import Transcriber
from localization_core.settings import Settings
from tests.conftest import ffmpeg, media_file
from tests.e2e.conftest import (
    Delivery,
    correlation,
    duration_of,
    load_asset,
    localize_in_process,
    run_localization_level,
    run_video_level,
    words,
)

pytestmark = pytest.mark.slow


def check_streams(delivery: Delivery, source: Path, fps: float, dub_lang: str) -> None:
    streams = delivery.streams()
    video = [s for s in streams if s["codec_type"] == "video"]
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert len(video) == 1 and len(audio) == 2
    assert audio[0]["tags"]["language"] == dub_lang, "the dub is the first audio track"
    assert audio[0]["disposition"]["default"] == 1
    # the picture's length (a container may list a few ms more for audio priming)
    assert abs(delivery.duration() - duration_of(source, "v")) <= 1 / fps
    assert abs(duration_of(delivery.video, "v") - duration_of(source, "v")) <= 1 / fps
    assert delivery.decode_errors() == ""
    assert delivery.srt.is_file() and delivery.vtt.is_file()


def test_whisper_translation_of_french_speech_on_a_face_clip(
    project: Settings,
    french_face_clip: Path,
    tiny_en: Transcriber,
    base_model: Transcriber,
    tmp_path: Path,
) -> None:
    video_id, delivery = localize_in_process(french_face_clip, "en")
    assert video_id == "french-face"
    report = delivery.report
    assert report["source"]["language"] == "fr"
    check_streams(delivery, french_face_clip, 25.0, "eng")

    dub = delivery.audio(0, tmp_path / "dub.wav")
    original = delivery.audio(1, tmp_path / "original.wav")
    assert correlation(dub, original) < 0.5, "the dub must not be the source speech"
    assert base_model.detect_language(dub)[0] == "en"
    assert base_model.detect_language(original)[0] == "fr"

    subtitles = delivery.subtitle_text()
    heard = words(" ".join(line.text for line in tiny_en.transcribe(dub).lines))
    assert len(heard & words(subtitles)) >= len(words(subtitles)) / 2, (heard, subtitles)
    assert delivery.vtt.read_text().startswith("WEBVTT")
    assert report["translation"]["provider"].startswith("whisper")
    assert report["sync"]["frames_total"] == 200
    sync_keys = {"frames_total", "frames_sent_to_engine", "faceless_frames_excluded", "windows",
                 "dub_only_pieces", "engine_calls"}  # fmt: skip
    assert sync_keys <= set(report["sync"])
    for line in report["isochrony"]["lines"]:
        assert {"slot", "synthesized_s", "action", "ratio", "borrowed_s", "cut", "failed"} <= set(
            line
        )
    assert {"lines", "failed", "cut", "compressed", "stretched"} <= set(
        report["isochrony"]["totals"]
    )


def test_sidecar_translation_of_an_english_clip(
    project: Settings, monkeypatch: pytest.MonkeyPatch, base_model: Transcriber, tmp_path: Path
) -> None:
    """A reviewer's Spanish file drives the dub; the subtitles are that Spanish text."""
    from localization_core.settings import get_settings

    monkeypatch.setenv("TRANSLATOR_PROVIDER", "sidecar")
    get_settings.cache_clear()
    clip = media_file("talking_head_512_25fps.mp4")
    spanish = [
        "Hola a todos, gracias por estar aquí hoy.",
        "Vamos a hablar de nuestro futuro juntos.",
        "Es un momento muy importante para todos.",
        "Gracias.",
    ]
    video_id = run_video_level(clip, ["es"], video_id="aoc")
    transcript: Transcript = load_asset("transcript", video_id)
    assert transcript.language == "en" and transcript.lines
    lines = [spanish[i % len(spanish)] for i in range(len(transcript.lines))]
    cues = [
        srt.Subtitle(line.id, timedelta(seconds=line.start), timedelta(seconds=line.end), text)
        for line, text in zip(transcript.lines, lines, strict=True)
    ]
    sidecar = get_settings().data_dir / "sidecars" / "aoc.es.srt"
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text(srt.compose(cues))

    delivery = run_localization_level(video_id, "es")
    report = delivery.report
    assert report["source"]["language"] == "en"
    assert report["translation"]["provider"].startswith("sidecar")
    check_streams(delivery, clip, 25.0, "spa")
    assert delivery.subtitle_text().split() == " ".join(lines).split()

    dub = delivery.audio(0, tmp_path / "dub.wav")
    original = delivery.audio(1, tmp_path / "original.wav")
    assert correlation(dub, original) < 0.5
    # this clip is dual-mono, so separation is degraded and the original stays ducked under the
    # dub: the first track must still follow the synthesized Spanish voice, not the source
    key = str(dg.MultiPartitionKey({"video": video_id, "lang": "es"}))
    dub_track: DubTrack = load_asset("dub_track", key)
    voice = tmp_path / "voice.wav"
    ffmpeg("-i", str(project.storage_root / dub_track.voice_key), "-ac", "1", "-ar", "16000",
           str(voice))  # fmt: skip
    assert report["separation"]["degraded"] is True
    assert correlation(dub, voice) > 2 * correlation(dub, original)
    assert base_model.detect_language(original)[0] == "en"
