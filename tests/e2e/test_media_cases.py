"""Valid videos that used to fail or lose something go through, and what cannot be done is one
clear line: odd frame sizes, a rotation flag, sound shorter or longer than the picture, 5.1
sound, a clip too short to localize."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from localization_core.settings import Settings
from tests.conftest import ffmpeg
from tests.e2e.conftest import duration_of, load_asset, localize_in_process

pytestmark = pytest.mark.slow


def video_stream(path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json",
         str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    stream: dict[str, Any] = json.loads(proc.stdout)["streams"][0]
    return stream


def rotation_of(stream: dict[str, Any]) -> list[int]:
    return [int(s["rotation"]) for s in stream.get("side_data_list", []) if "rotation" in s]


def test_odd_size_surround_sound_ending_early(
    project: Settings, french_face_clip: Path, tmp_path: Path
) -> None:
    """721x405 (no encoder-friendly even size), 5.1 sound that stops 4 s before the picture."""
    clip = tmp_path / "odd.mp4"
    graph = "[0:v]scale=721:405[v];[0:a]atrim=0:4,asetpts=N/SR/TB[a]"
    ffmpeg("-i", str(french_face_clip), "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
           "-c:v", "libx264", "-pix_fmt", "yuv444p", "-ac", "6", str(clip))  # fmt: skip
    _, delivery = localize_in_process(clip, "en", source="fr")
    stream = video_stream(delivery.video)
    assert (stream["width"], stream["height"]) == (721, 405)
    assert abs(duration_of(delivery.video, "v") - duration_of(clip, "v")) <= 1 / 25
    dub, original = (s for s in delivery.streams() if s["codec_type"] == "audio")
    assert original["channels"] == 6, "the original keeps its 5.1 sound"
    assert dub["channels"] == 2
    assert float(original["duration"]) == pytest.approx(duration_of(clip, "v"), abs=0.1)
    report = delivery.report
    assert report["source"]["audio_channels"] == 6
    assert (
        "ends 4.00 s before the picture: padded with silence"
        in (report["source"]["audio_vs_picture"])
    )
    assert delivery.decode_errors() == ""


def test_rotated_phone_video_with_sound_running_past_the_picture(
    project: Settings, french_face_clip: Path, tmp_path: Path
) -> None:
    """Coded 384x512, shown 512x384 by its rotation flag, the face upright only when the flag
    is honoured; 8 s of sound over 4 s of picture."""
    coded = tmp_path / "coded.mp4"
    ffmpeg("-i", str(french_face_clip), "-vf", "crop=512:384,transpose=2", "-t", "4",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an", str(coded))  # fmt: skip
    clip = tmp_path / "phone.mp4"
    ffmpeg("-i", str(coded), "-i", str(french_face_clip), "-map", "0:v", "-map", "1:a",
           "-c", "copy", "-metadata:s:v:0", "rotate=270", str(clip))  # fmt: skip
    video_id, delivery = localize_in_process(clip, "en", source="fr")

    faces = load_asset("face_track", video_id)
    assert len(faces.boxes) >= 0.8 * faces.frame_count, "the face is found upright"
    stream = video_stream(delivery.video)
    assert (stream["width"], stream["height"]) == (384, 512)
    assert rotation_of(stream) == rotation_of(video_stream(clip)) != [], "the flag is kept"
    assert duration_of(delivery.video) == pytest.approx(duration_of(clip, "v"), abs=0.1)
    report = delivery.report
    assert "runs 4.00 s past the picture" in report["source"]["audio_vs_picture"]
    key = str(dg.MultiPartitionKey({"video": video_id, "lang": "en"}))
    plan = load_asset("sync_plan", key)
    assert plan.frames_in_windows <= plan.frames_total == 100
    translation = load_asset("translation", key)
    assert all(line.end <= 4.0 + 1e-6 for line in translation.lines)
