"""The sync coverage rule on plans a reviewer would judge: sending silence or faceless frames
to the engine fails it; sending only speaking frames with a face passes."""

from __future__ import annotations

from localization_core.artifacts import SyncPlan, SyncWindow
from localization_dagster.checks import sync_check


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
