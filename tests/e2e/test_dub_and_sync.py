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
from localization_core.timing import BREATH_S, MAX_COMPRESS, MAX_STRETCH
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
        "-i", str(media_file("speech_fr.wav")),
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


def test_each_line_starts_on_its_slot_within_limits_and_never_overlaps(
    localized: Localized,
) -> None:
    loud = loud_frames(localized.voice, localized.rate, 35.0)
    placed = [fit for fit in localized.dub.lines if fit.action not in ("silence", "empty")]
    assert len(placed) >= 2, "the clip has speech on both sides of the pause"
    starts = [fit.slot.start for fit in placed]
    for index, fit in enumerate(placed):
        end = starts[index + 1] if index + 1 < len(placed) else len(loud) * FRAME_S
        first, last = int(fit.slot.start / FRAME_S) - 10, int(end / FRAME_S)
        active = np.flatnonzero(loud[max(0, first) : last]) + max(0, first)
        assert active.size, f"line {fit.id} is silent"
        onset, offset = active[0] * FRAME_S, (active[-1] + 1) * FRAME_S
        assert abs(onset - fit.slot.start) <= 0.04, (fit.id, onset, fit.slot.start)
        if index + 1 < len(placed):
            assert offset <= starts[index + 1] + 1e-9, "a line runs into the next"
        measured = offset - onset
        speed = fit.synthesized_s / measured
        assert 1 / MAX_STRETCH - 0.05 <= speed <= MAX_COMPRESS + 0.05, (fit.id, speed)
        room = max(fit.slot.duration, end - BREATH_S - fit.slot.start)
        if fit.synthesized_s <= MAX_COMPRESS * room:
            assert not fit.cut and measured >= fit.synthesized_s / MAX_COMPRESS - 0.05


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
    fraction = plan.frames_in_windows / plan.frames_total
    assert fraction < 0.7, fraction
    print(
        f"frames sent to the engine: {plan.frames_in_windows}/{plan.frames_total} = {fraction:.2f}"
    )
