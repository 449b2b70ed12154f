"""The LatentSync adapter against a stand-in of its ``scripts/inference.py``
(tests/engines/latentsync: the same flags, relative resources, hard-coded temp/, face failure,
frame-count rules of 1.5 and 1.6, unchecked final mux; no model). One test per behaviour."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localization_core import media
from localization_core.errors import FaceNotDetectedError, LipSyncError
from localization_core.presets import resolve
from localization_core.providers.lipsync.latentsync import LatentSyncLipSyncer
from localization_core.providers.lipsync.subprocess_engine import EngineCheckout
from localization_core.stages.lipsync import validated
from tests.conftest import REPO, ffmpeg, media_file

HIGH = resolve("HIGH_QUALITY", "latentsync", 0)


def window(folder: Path, frames: int, blank: str | None = None) -> tuple[Path, Path]:
    """A face window of ``frames`` frames at 25 fps and its 16 kHz audio, exactly as long."""
    clip = folder / f"window-{frames}-{blank is not None}.mp4"
    drawn = ["-vf", f"drawbox=c=black:t=fill:enable='{blank}'"] if blank else []
    ffmpeg("-i", str(media_file("talking_head_512_25fps.mp4")), "-frames:v", str(frames),
           *drawn, "-an", "-c:v", "libx264", "-crf", "16", str(clip))  # fmt: skip
    audio = media.extract_speech_audio(
        media_file("speech_en_jfk.flac"), folder / f"audio-{frames}.wav", end=frames / 25
    )
    return clip, audio


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("latentsync-inputs")
    return {
        "window": window(folder, 32),
        "faceless": window(folder, 32, "between(n,10,12)"),
        "odd": window(folder, 40),
    }


def make_engine(tmp_path: Path, version: str) -> LatentSyncLipSyncer:
    weights = tmp_path / "checkpoints"
    (weights / "whisper").mkdir(parents=True, exist_ok=True)
    (weights / "latentsync_unet.pt").write_bytes(b"unet")
    (weights / "whisper" / "tiny.pt").write_bytes(b"whisper")
    checkout = EngineCheckout(dir=REPO / "tests/engines/latentsync", python=Path(sys.executable),
                              checkpoints=weights, version=version)  # fmt: skip
    return LatentSyncLipSyncer(checkout)


@pytest.fixture()
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LatentSyncLipSyncer:
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.jsonl"))
    return make_engine(tmp_path, "1.5")


def logged(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (tmp_path / "calls.jsonl").read_text().splitlines()]


def test_flags_carry_the_preset_the_version_s_config_and_a_fixed_seed(
    engine: LatentSyncLipSyncer, inputs: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    clip, audio = inputs["window"]
    engine.sync(clip, audio, tmp_path / "hq.mp4", HIGH)
    engine.sync(clip, audio, tmp_path / "ultra.mp4", resolve("ULTRA", "latentsync", 0))
    high, ultra = (call["argv"] for call in logged(tmp_path))
    assert isinstance(high, list) and isinstance(ultra, list)
    flag = dict(zip(high[::2], high[1::2], strict=False))
    assert flag["--unet_config_path"] == "configs/unet/stage2.yaml"
    assert flag["--inference_ckpt_path"] == "checkpoints/latentsync_unet.pt"
    assert (flag["--inference_steps"], flag["--guidance_scale"], flag["--seed"]) == (
        "25", "2.0", "1247")  # fmt: skip
    assert ultra[ultra.index("--inference_steps") + 1] == "30"


def test_each_call_has_a_temp_dir_of_its_own(
    engine: LatentSyncLipSyncer, inputs: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    """The script wipes ./temp on start: two windows at once must not share one."""
    clip, audio = inputs["window"]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda n: engine.sync(clip, audio, tmp_path / f"{n}.mp4", HIGH),
                             range(2)))  # fmt: skip
    assert [media.probe(out).frame_count for out in done] == [32, 32]
    directories = {str(call["cwd"]) for call in logged(tmp_path)}
    assert len(directories) == 2 and not any(Path(d).exists() for d in directories)
    assert not (engine.checkout.dir / "temp").exists()


def test_a_faceless_frame_is_face_not_detected(
    engine: LatentSyncLipSyncer, inputs: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    clip, audio = inputs["faceless"]
    with pytest.raises(FaceNotDetectedError, match="Face not detected"):
        engine.sync(clip, audio, tmp_path / "out.mp4", HIGH)


def test_v1_5_cuts_to_whole_chunks_and_validation_refuses_the_short_output(
    engine: LatentSyncLipSyncer, inputs: dict[str, tuple[Path, Path]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("STANDIN_VERSION", "1.5")
    clip, audio = inputs["odd"]  # 40 frames: 1.5 keeps 32
    out = engine.sync(clip, audio, tmp_path / "out.mp4", HIGH)
    with pytest.raises(LipSyncError, match="has 32 of 40 frames"):
        validated(out, 40)


def test_v1_6_runs_two_frames_past_the_audio_and_the_window_keeps_its_own(
    inputs: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    engine = make_engine(tmp_path, "1.6")
    clip, audio = inputs["window"]
    out = engine.sync(clip, audio, tmp_path / "out.mp4", HIGH)
    assert validated(out, 32) == out


def test_exit_zero_without_an_output_is_a_failed_call(
    engine: LatentSyncLipSyncer, inputs: dict[str, tuple[Path, Path]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("STANDIN_FAIL_MUX", "1")
    clip, audio = inputs["window"]
    with pytest.raises(LipSyncError, match="final mux failed") as failed:
        engine.sync(clip, audio, tmp_path / "out.mp4", HIGH)
    assert not isinstance(failed.value, FaceNotDetectedError)


def test_missing_weights_fail_at_load_not_as_a_face(
    engine: LatentSyncLipSyncer, inputs: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    (engine.checkout.checkpoints / "latentsync_unet.pt").unlink()
    clip, audio = inputs["window"]
    with pytest.raises(LipSyncError, match=r"latentsync exited with 1: .*FileNotFoundError") as e:
        engine.sync(clip, audio, tmp_path / "out.mp4", HIGH)
    assert not isinstance(e.value, FaceNotDetectedError)
