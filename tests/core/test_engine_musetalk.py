"""The MuseTalk adapter against a stand-in of MuseTalk 1.5's ``scripts/inference.py``
(tests/engines/musetalk: the same flags, task file, output name and failure behaviours, no
model). One test per documented behaviour."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psutil
import pytest

from localization_core import media
from localization_core.errors import FaceNotDetectedError, LipSyncError
from localization_core.presets import resolve
from localization_core.providers.lipsync.musetalk import MuseTalkLipSyncer
from localization_core.providers.lipsync.subprocess_engine import EngineCheckout, file_sha256
from tests.conftest import REPO, ffmpeg, media_file

FRAMES = 32


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 32-frame face window at 25 fps, its 16 kHz audio, and two broken variants."""
    folder = tmp_path_factory.mktemp("musetalk-inputs")
    clip = folder / "window.mp4"
    ffmpeg("-i", str(media_file("talking_head_512_25fps.mp4")), "-frames:v", str(FRAMES),
           "-an", "-c:v", "libx264", "-crf", "16", str(clip))  # fmt: skip
    audio = media.extract_speech_audio(
        media_file("speech_en_jfk.flac"), folder / "audio.wav", end=FRAMES / 25
    )
    made = {"clip": clip, "audio": audio}
    for name, frames in (("gap", "between(n,20,23)"), ("opening", "lt(n,6)")):
        made[name] = folder / f"{name}.mp4"
        ffmpeg("-i", str(clip), "-vf", f"drawbox=c=black:t=fill:enable='{frames}'",
               "-c:v", "libx264", "-crf", "16", str(made[name]))  # fmt: skip
    return made


@pytest.fixture()
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MuseTalkLipSyncer:
    """The adapter on the stand-in checkout, with weights of its own and a call log."""
    models = tmp_path / "models"
    (models / "musetalkV15").mkdir(parents=True)
    (models / "whisper").mkdir()
    (models / "musetalkV15" / "unet.pth").write_bytes(b"weights v1.5")
    (models / "musetalkV15" / "musetalk.json").write_text("{}")
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.jsonl"))
    checkout = EngineCheckout(
        dir=REPO / "tests" / "engines" / "musetalk",
        python=Path(sys.executable),
        checkpoints=models,
        version="v15",
    )
    return MuseTalkLipSyncer(checkout)


def calls(engine: MuseTalkLipSyncer) -> list[dict[str, object]]:
    log = engine.checkout.checkpoints.parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_a_window_comes_back_whole_at_25_fps_from_the_name_built_from_the_inputs(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = engine.sync(
        inputs["clip"], inputs["audio"], tmp_path / "a.mp4", resolve("FAST", "musetalk", 0)
    )
    facts = media.probe(out)
    assert facts.frame_count == FRAMES and facts.fps == 25
    (call,) = calls(engine)
    argv = call["argv"]
    assert isinstance(argv, list) and argv[argv.index("--version") + 1] == "v15"
    assert argv[argv.index("--unet_model_path") + 1].endswith("models/musetalkV15/unet.pth")
    task = Path(argv[argv.index("--inference_config") + 1])
    assert task.name == "task.yaml" and not task.exists(), "the call's directory is removed"


def test_each_call_runs_in_a_fresh_directory_with_the_models_beside_it(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    """MuseTalk loads ``./models/...`` relative to where it runs."""
    tuning = resolve("FAST", "musetalk", 0)
    engine.sync(inputs["clip"], inputs["audio"], tmp_path / "a.mp4", tuning)
    engine.sync(inputs["clip"], inputs["audio"], tmp_path / "b.mp4", tuning)
    first, second = (str(call["cwd"]) for call in calls(engine))
    assert first != second and str(engine.checkout.dir) not in first
    assert not Path(first).exists() and not Path(second).exists()


def test_missing_weights_fail_the_call_with_the_engine_s_last_words(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    (engine.checkout.checkpoints / "musetalkV15" / "unet.pth").unlink()
    with pytest.raises(LipSyncError, match=r"musetalk exited with 1: .*FileNotFoundError") as e:
        engine.sync(
            inputs["clip"], inputs["audio"], tmp_path / "a.mp4", resolve(None, "musetalk", 0)
        )
    assert not isinstance(e.value, FaceNotDetectedError), "not a face problem: no bisect"


def test_fast_runs_fp16_and_balanced_adds_the_jaw_margin_and_parsing(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    for preset in ("FAST", "BALANCED"):
        engine.sync(inputs["clip"], inputs["audio"], tmp_path / f"{preset}.mp4",
                    resolve(preset, "musetalk", 0))  # fmt: skip
    fast, balanced = (call["argv"] for call in calls(engine))
    assert isinstance(fast, list) and isinstance(balanced, list)
    assert "--use_float16" in fast and "--use_float16" not in balanced
    assert balanced[balanced.index("--extra_margin") + 1] == "15"
    assert balanced[balanced.index("--parsing_mode") + 1] == "jaw"


def test_a_video_cut_short_at_a_faceless_frame_is_face_not_detected(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    """The stand-in exits 0 with a video that stops at the first faceless frame (20)."""
    with pytest.raises(FaceNotDetectedError, match=r"stopped at frame 20 of 32"):
        engine.sync(
            inputs["gap"], inputs["audio"], tmp_path / "a.mp4", resolve(None, "musetalk", 0)
        )
    assert not (tmp_path / "a.mp4").exists()


def test_no_face_in_the_first_frames_leaves_no_file_and_exit_zero(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(FaceNotDetectedError, match="musetalk wrote no frame"):
        engine.sync(
            inputs["opening"], inputs["audio"], tmp_path / "a.mp4", resolve(None, "musetalk", 0)
        )


def test_exit_zero_without_a_file_for_another_reason_is_a_failed_call(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    unreadable = tmp_path / "audio.wav"
    unreadable.write_text("not audio")
    with pytest.raises(LipSyncError, match="musetalk wrote no output") as e:
        engine.sync(inputs["clip"], unreadable, tmp_path / "a.mp4", resolve(None, "musetalk", 0))
    assert not isinstance(e.value, FaceNotDetectedError)


def test_a_hung_engine_is_killed_with_its_whole_process_group(
    engine: MuseTalkLipSyncer, inputs: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("STANDIN_HANG_S", "60")
    engine.timeout_s = 2.0
    started = time.monotonic()
    with pytest.raises(LipSyncError, match="ran past 2 s"):
        engine.sync(
            inputs["clip"], inputs["audio"], tmp_path / "a.mp4", resolve(None, "musetalk", 0)
        )
    assert time.monotonic() - started < 10
    stand_ins = [p for p in psutil.process_iter(["cmdline"]) if "scripts.inference" in
                 " ".join(p.info["cmdline"] or [])]  # fmt: skip
    assert stand_ins == []


def test_the_weights_are_hashed_once_per_version_of_the_file(
    engine: MuseTalkLipSyncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = engine.checkpoint_hash
    weights = engine.checkout.checkpoints / "musetalkV15" / "unet.pth"
    assert (weights.parent / ".unet.pth.sha256.json").is_file()
    monkeypatch.setattr("hashlib.sha256", None)  # a second hash of the same file would fail
    assert file_sha256(weights) == file_sha256(weights)
    monkeypatch.undo()
    weights.write_bytes(b"weights v1.5, fine-tuned")
    changed = MuseTalkLipSyncer(engine.checkout).checkpoint_hash
    assert changed != first, "new weights, new cache keys"
