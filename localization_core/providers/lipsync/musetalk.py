"""MuseTalk 1.5 (TMElyralab/MuseTalk) through its own ``scripts.inference``, on a GPU node.

How the script behaves, and what this adapter does about it:
- it reads a YAML task file (``task_0: {video_path, audio_path}``) and writes
  ``<result_dir>/<version>/<video stem>_<audio stem>.mp4``: the adapter writes the task file
  and reads that name back (``video``/``audio`` stems, so nothing collides);
- model paths inside the package are relative to the working directory (``./models/...``):
  each call runs in a fresh directory whose ``models`` links to the checkpoint directory;
- it exits 0 whatever happens to a task; a frame without a face makes it stop writing frames
  there (a video truncated at the first faceless frame), no face at all or none in the first
  frames leaves no file. A truncated or missing output is therefore checked here: fewer frames
  than given is "Face not detected" (bisect), no file at all is a failed call;
- ``--use_float16`` and the jaw margin and parsing mode come from the preset's tuning.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from localization_core import media
from localization_core.errors import FaceNotDetectedError, LipSyncError
from localization_core.presets import MUSETALK_MAX_WINDOW_S, Tuning
from localization_core.providers.lipsync.subprocess_engine import SubprocessLipSyncer

NO_FACE_OUTPUT = ("division by zero", "could find no file")


class MuseTalkLipSyncer(SubprocessLipSyncer):
    """MuseTalk 1.5 (``MUSETALK_DIR``, ``_PYTHON``, ``_CHECKPOINTS``, ``_VERSION``)."""

    name = "musetalk"
    max_window_s = MUSETALK_MAX_WINDOW_S
    weights = ("musetalkV15/unet.pth", "musetalkV15/musetalk.json")

    def sync(self, video: Path, audio: Path, out_path: Path, tuning: Tuning) -> Path:
        """One window: task file, inference, then the output checked and moved to
        ``out_path``."""
        work = self.workdir(out_path)
        try:
            (work / "models").symlink_to(self.checkout.checkpoints, target_is_directory=True)
            inputs = work / "inputs"
            inputs.mkdir()
            shutil.copyfile(video, inputs / "video.mp4")
            shutil.copyfile(audio, inputs / "audio.wav")
            task = work / "task.yaml"
            task.write_text(
                "task_0:\n"
                f'  video_path: "{inputs / "video.mp4"}"\n'
                f'  audio_path: "{inputs / "audio.wav"}"\n'
            )
            output = self.run(self.arguments(task, work / "results", tuning), work)
            produced = work / "results" / self.checkout.version / "video_audio.mp4"
            _check_output(produced, media.probe(video).frame_count or 0, output)
            shutil.move(produced, out_path)
            return out_path
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def arguments(self, task: Path, results: Path, tuning: Tuning) -> list[str]:
        """``scripts.inference`` flags as the repository's inference.sh passes them for v1.5,
        plus the tuning's precision, jaw margin and blending mode."""
        models = self.checkout.checkpoints
        args = [
            "scripts.inference",
            "--inference_config", str(task),
            "--result_dir", str(results),
            "--unet_model_path", str(models / "musetalkV15" / "unet.pth"),
            "--unet_config", str(models / "musetalkV15" / "musetalk.json"),
            "--whisper_dir", str(models / "whisper"),
            "--version", self.checkout.version,
            "--fps", "25",
        ]  # fmt: skip
        if tuning.fp16:
            args.append("--use_float16")
        if tuning.extra_margin is not None:
            args += ["--extra_margin", str(tuning.extra_margin)]
        if tuning.parsing_mode:
            args += ["--parsing_mode", tuning.parsing_mode]
        return args


def _check_output(produced: Path, expected: int, output: str) -> None:
    """MuseTalk exits 0 on every task failure: judge by what it wrote."""
    if not produced.is_file() or produced.stat().st_size == 0:
        if any(marker in output.lower() for marker in NO_FACE_OUTPUT):
            raise FaceNotDetectedError("Face not detected (musetalk wrote no frame)")
        tail = " | ".join(output.strip().splitlines()[-3:])[-400:]
        raise LipSyncError(f"musetalk wrote no output: {tail}")
    frames = media.probe(produced).frame_count or 0
    if frames < expected:
        raise FaceNotDetectedError(
            f"Face not detected (musetalk stopped at frame {frames} of {expected})"
        )
