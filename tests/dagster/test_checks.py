"""The sync coverage rule on plans a reviewer would judge: sending silence or faceless frames
to the engine fails it; sending only speaking frames with a face passes. A delivery must keep
the source's duration and frame count."""

from __future__ import annotations

from localization_core.artifacts import LocalizedVideo, SourceVideo, SyncPlan, SyncWindow
from localization_core.domain import MediaProbe
from localization_dagster.checks import output_check, sync_check


def plan(sent_s: float) -> SyncPlan:
    """4 s of speech at 25 fps, 0.8 s of it without a face; one window of ``sent_s``."""
    window = SyncWindow(index=0, start=0.0, end=sent_s, mode="sync", cache_key="k")
    return SyncPlan(
        duration=10.0,
        fps=25.0,
        engine="preview",
        windows=(window,),
        frames_total=250,
        frames_in_windows=round(sent_s * 25),
        faceless_frames_excluded=20,
        frames_speaking=100,
    )


def test_only_speaking_frames_with_a_face_pass() -> None:
    result = sync_check(plan(3.2))
    assert result.passed
    assert result.metadata["speech_covered"].value == 1.0


def test_sending_the_whole_video_fails() -> None:
    result = sync_check(plan(10.0))
    assert not result.passed
    assert result.description == (
        "250 of 250 frames sent to preview; speech covers 100, of which 20 have no face"
    )


def delivered(duration: float, frames: int) -> tuple[SourceVideo, LocalizedVideo]:
    """A 5 s, 125-frame source at 25 fps and a delivery of ``duration`` and ``frames``."""
    probe = MediaProbe(
        duration=5.0, has_video=True, width=64, height=64, fps_num=25, fps_den=1,
        frame_count=125, video_duration=5.0,
    )  # fmt: skip
    source = SourceVideo(video_id="v", key="k", filename="v.mp4", version="1", probe=probe)
    video = LocalizedVideo(
        video_key="o", srt_key="s", vtt_key="t", report_key="r", duration=duration,
        has_speech=True, frame_count=frames,
    )  # fmt: skip
    return source, video


def test_a_delivery_one_frame_short_fails_even_within_the_duration_tolerance() -> None:
    assert output_check(*delivered(5.0, 125)).passed
    short = output_check(*delivered(4.98, 124))
    assert not short.passed
    assert short.description == "output 4.980 s, 124 frames; source picture 5.000 s, 125 frames"
    assert not output_check(*delivered(5.2, 125)).passed, "a long tail fails on duration"
