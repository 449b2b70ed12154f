"""Two real speakers through the Dagster pipeline with ``DIARIZER_PROVIDER=resemblyzer``: the
transcript's lines carry both, each gets a voice of its own in the dub, and the UI's metadata
and report.json list them with talk time and the reference chosen."""

from __future__ import annotations

import itertools
from pathlib import Path

import dagster as dg
import pytest
import srt

from localization_core.artifacts import DubTrack
from localization_core.domain import Transcript
from localization_core.settings import Settings, get_settings
from tests.conftest import ffmpeg, media_file
from tests.e2e.conftest import load_asset, run_localization_level, run_video_level
from tests.e2e.test_pipeline import write_sidecar

pytestmark = pytest.mark.slow

SPANISH = ("Buenas tardes a todos.", "Gracias por venir hoy.", "Vamos a empezar ya.")


def two_speaker_video(folder: Path) -> Path:
    """A grey 256x256 picture over JFK (11 s), a second of silence and the talking head's
    English speaker (8 s)."""
    audio = folder / "two.wav"
    ffmpeg(
        "-i", str(media_file("speech_en_jfk.flac")),
        "-i", str(media_file("talking_head_512_25fps.mp4")),
        "-filter_complex",
        "[0:a]aresample=48000,aformat=channel_layouts=stereo[a];"
        "anullsrc=r=48000:cl=stereo:d=1[s];"
        "[1:a]aresample=48000,aformat=channel_layouts=stereo[b];"
        "[a][s][b]concat=n=3:v=0:a=1[out]",
        "-map", "[out]", str(audio),
    )  # fmt: skip
    video = folder / "two_speakers.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=gray:s=256x256:r=25", "-i", str(audio),
        "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video),
    )  # fmt: skip
    return video


def test_each_speaker_keeps_one_voice_of_their_own(
    project: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DIARIZER_PROVIDER", "resemblyzer")
    monkeypatch.setenv("TRANSLATOR_PROVIDER", "sidecar")
    get_settings.cache_clear()
    video_id = run_video_level(two_speaker_video(tmp_path), ["es"], source="en", video_id="two")
    transcript: Transcript = load_asset("transcript", video_id)
    first_of = {line.speaker: line.start for line in reversed(transcript.lines)}
    assert set(first_of) == {"S1", "S2"} and first_of["S1"] < 11.0 < first_of["S2"]
    write_sidecar(video_id, "es", {line.id: SPANISH[line.id % 3] for line in transcript.lines})
    delivery = run_localization_level(video_id, "es")

    key = str(dg.MultiPartitionKey({"video": video_id, "lang": "es"}))
    dub: DubTrack = load_asset("dub_track", key)
    voices = {fit.speaker: fit.voice.split("|")[1] for fit in dub.lines if fit.voice}  # variant
    assert set(voices) == {"S1", "S2"} and voices["S1"] != voices["S2"]
    speakers = {one["speaker"]: one for one in delivery.report["speakers"]}
    assert set(speakers) == {"S1", "S2"} and delivery.report["diarizer"] == "resemblyzer"
    assert speakers["S1"]["voice"] != speakers["S2"]["voice"]
    for one in speakers.values():
        assert one["talk_s"] > 0 and one["dub_lines"] > 0
        assert one["reference"] or one["reference_missing"]

    from localization_dagster.resources import toolkit
    from localization_dagster.runner import open_instance

    spoken = sorted(dub.lines, key=lambda fit: fit.slot.start)
    changes = sum(a.speaker != b.speaker for a, b in itertools.pairwise(spoken))
    cues = list(srt.parse(delivery.srt.read_text()))
    assert changes and sum(cue.content.startswith("- ") for cue in cues) == changes

    instance = open_instance(toolkit().settings)
    shown = instance.get_latest_materialization_event(dg.AssetKey("transcript"))
    assert shown is not None and shown.asset_materialization is not None
    metadata = shown.asset_materialization.metadata
    assert metadata["speakers"].value == 2 and metadata["diarizer"].value == "resemblyzer"
