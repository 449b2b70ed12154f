"""On real speech: the rendered dub honours the isochrony rules, and silence with a face in
view is not sent to the lip-sync engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from localization_core.artifacts import DubTrack, SyncPlan
from localization_core.audio import Samples
from localization_core.domain import Translation
from localization_core.timing import BREATH_S, FADE_S, MAX_COMPRESS, MAX_STRETCH
from tests.conftest import ffmpeg, media_file, project_settings
from tests.e2e.conftest import load_asset, localize_in_process

pytestmark = pytest.mark.slow
FRAME_S = 0.01


@dataclass(frozen=True)
class Localized:
    dub: DubTrack
    plan: SyncPlan
    translation: Translation
    voice: Samples
    rate: int


@pytest.fixture(scope="module")
def pause_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """French speech, 8 s of silence with the face still in view, French speech again."""
    path = tmp_path_factory.mktemp("pause") / "pause.mp4"
    ffmpeg(
        "-stream_loop", "2", "-i", str(media_file("talking_head_512_25fps.mp4")),
        "-i", str(media_file("speech_fr.flac")),
        "-filter_complex",
        "[1:a]atrim=0:3.3,asetpts=N/SR/TB[a1];[1:a]atrim=3.3,asetpts=N/SR/TB[a2];"
        "anullsrc=r=16000:cl=mono,atrim=0:8[gap];[a1][gap][a2]concat=n=3:v=0:a=1,"
        "aresample=44100[a]",
        "-map", "0:v:0", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def localized(tmp_path_factory: pytest.TempPathFactory, pause_clip: Path) -> Localized:
    data = tmp_path_factory.mktemp("dubsync") / "data"
    with project_settings(data) as settings:
        video_id, _ = localize_in_process(pause_clip, "en")
        key = str(dg.MultiPartitionKey({"video": video_id, "lang": "en"}))
        dub: DubTrack = load_asset("dub_track", key)
        plan: SyncPlan = load_asset("sync_plan", key)
        review = load_asset("translation_review", key)
        voice, rate = soundfile.read(settings.storage_root / dub.voice_key, dtype="float32")
    return Localized(dub, plan, review.translation, voice, rate)


def loud_frames(samples: Samples, rate: int, below_peak_db: float) -> npt.NDArray[np.bool_]:
    """Per 10 ms frame: louder than ``below_peak_db`` under the loudest frame."""
    size = int(FRAME_S * rate)
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-12
    level = 20 * np.log10(rms)
    loud: npt.NDArray[np.bool_] = level > level.max() - below_peak_db
    return loud


def longest_quiet(loud: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """Start and end (s) of the longest run of quiet frames between two loud ones."""
    active = np.flatnonzero(loud)
    gaps = np.diff(active)
    widest = int(np.argmax(gaps))
    return float(active[widest] + 1) * FRAME_S, float(active[widest + 1]) * FRAME_S


def test_each_line_starts_on_its_slot_within_limits_and_never_overlaps(
    localized: Localized,
) -> None:
    """Heard on the voice track: every line starts on its slot, lasts what its fit says, and is
    quiet before the next line starts. Slots, fits and ends all come from the run's own data."""
    loud = loud_frames(localized.voice, localized.rate, 35.0)
    placed = [fit for fit in localized.dub.lines if fit.action not in ("silence", "empty")]
    assert len(placed) >= 2, "the clip has speech on both sides of the pause"
    track_end = len(loud) * FRAME_S
    previous_end = 0.0
    for index, fit in enumerate(placed):
        assert 1 / MAX_STRETCH - 1e-6 <= fit.ratio <= MAX_COMPRESS + 1e-6, fit
        fit_end = fit.slot.start + fit.placed_s
        next_start = placed[index + 1].slot.start if index + 1 < len(placed) else track_end
        assert fit_end <= max(fit.slot.end, next_start - BREATH_S) + 1e-3, "runs into the next"
        # search from 0.1 s before the slot, but never inside the previous line's own audio
        first = int(max(fit.slot.start - 0.1, previous_end) / FRAME_S)
        active = np.flatnonzero(loud[first : int(next_start / FRAME_S)]) + first
        assert active.size, f"line {fit.id} is silent"
        onset, offset = active[0] * FRAME_S, (active[-1] + 1) * FRAME_S
        assert abs(onset - fit.slot.start) <= 0.04, (fit.id, onset, fit.slot.start)
        # soft word endings fall under the 35 dB threshold, so the heard length may be shorter
        assert fit.placed_s - 0.15 <= offset - onset <= fit.placed_s + 0.04, (fit, onset, offset)
        if fit.synthesized_s <= MAX_COMPRESS * (next_start - BREATH_S - fit.slot.start):
            assert not fit.cut, "cut although 1.2x and the borrowable gap sufficed"
        previous_end = fit_end + FADE_S


def test_silence_with_a_face_in_view_is_not_sent_to_the_engine(localized: Localized) -> None:
    plan = localized.plan
    fps = plan.fps
    loud = loud_frames(localized.voice, localized.rate, 40.0)
    spans: list[tuple[float, float]] = [
        (float(i) * FRAME_S, float(i + 1) * FRAME_S) for i in np.flatnonzero(loud)
    ]
    spans += [(line.start, line.end) for line in localized.translation.lines if line.text]
    expected: list[list[float]] = []
    for start, end in sorted((max(0.0, a - 0.4), min(plan.duration, b + 0.4)) for a, b in spans):
        if expected and start - expected[-1][1] < 2.0:
            expected[-1][1] = max(expected[-1][1], end)
        else:
            expected.append([start, end])
    expected_frames = sum(end - start for start, end in expected) * fps
    sync_windows = [w for w in plan.windows if w.mode == "sync"]
    tolerance = (16 / 25) * fps * max(1, len(sync_windows))
    assert abs(plan.frames_in_windows - expected_frames) <= tolerance, (
        plan.frames_in_windows, expected_frames, plan.windows,
    )  # fmt: skip
    # the longest quiet stretch of the dub (the built 8 s pause, less what a line borrowed):
    # beyond the 0.4 s padding and one chunk of growth on each side, no frame goes to the engine
    quiet_start, quiet_end = longest_quiet(loud)
    for line in localized.translation.lines:  # a slot the voice did not fill is not quiet
        if line.text and line.start < quiet_end and line.end > quiet_start:
            if line.start <= quiet_start:
                quiet_start = line.end
            else:
                quiet_end = min(quiet_end, line.start)
    assert quiet_end - quiet_start >= 4.0, (quiet_start, quiet_end)
    margin = 0.4 + 16 / 25
    for window in sync_windows:
        assert window.end <= quiet_start + margin or window.start >= quiet_end - margin, window
    fraction = plan.frames_in_windows / plan.frames_total
    print(
        f"frames sent to the engine: {plan.frames_in_windows}/{plan.frames_total} = {fraction:.2f}"
    )
