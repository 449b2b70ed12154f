"""face_track judged against the hand labels of SOURCES.md."""

from __future__ import annotations

import pytest

from localization_core import media
from localization_core.artifacts import FaceTrack, SourceVideo
from localization_core.stages.face_track import track_faces
from tests.conftest import media_file

CLIP = "cuts_faceless_profile_30fps.mp4"
FPS = 30
NO_FACE = [(1.400, 3.000), (7.633, 8.000)]  # must be excluded
YES = [(0.000, 1.400), (4.467, 5.933)]  # must not be excluded
HAND_CUTS = [0.667, 1.400, 3.000, 4.467, 5.033, 5.533, 5.933, 6.367, 7.633]


@pytest.fixture(scope="module")
def track() -> FaceTrack:
    path = media_file(CLIP)
    facts = media.probe(path)
    source = SourceVideo(video_id="cuts", key="k", filename=CLIP, version="v", probe=facts)
    return track_faces(path, source)


def excluded_share(track: FaceTrack, start: float, end: float) -> float:
    frames = range(round(start * FPS), round(end * FPS))
    excluded = [
        f for f in frames
        if any(s.start - 1e-6 <= f / FPS < s.end - 1e-6 for s in track.faceless_spans)
    ]  # fmt: skip
    return len(excluded) / len(frames)


@pytest.mark.parametrize(("start", "end"), NO_FACE)
def test_no_face_spans_are_excluded(track: FaceTrack, start: float, end: float) -> None:
    assert excluded_share(track, start, end) >= 0.9


@pytest.mark.parametrize(("start", "end"), YES)
def test_frontal_face_spans_are_kept(track: FaceTrack, start: float, end: float) -> None:
    assert excluded_share(track, start, end) <= 0.1


def test_shot_cuts_profile_and_cost_are_reported(track: FaceTrack) -> None:
    assert len(track.shot_cuts) == len(HAND_CUTS)
    assert all(abs(a - b) < 1 / FPS for a, b in zip(track.shot_cuts, HAND_CUTS, strict=True))
    assert track.frame_count == 240
    assert track.profile_spans, "the profile and doubtful shots are reported"
    assert 0 < track.samples < track.frame_count, "not every frame is scanned"
    assert track.seconds_per_minute > 0
    boxes_per_frame = {round(t * FPS) for t, *_ in track.boxes}
    assert len(boxes_per_frame) == len(track.boxes)
    assert all(h >= 64 for *_, h in track.boxes), "faces under 64 px are not accepted"
