"""LatentSync (bytedance/LatentSync) through its own ``scripts.inference``, on a GPU node.

How the script behaves, and what this adapter does about it:
- every resource path is relative to the working directory (``configs/...``,
  ``checkpoints/...``, ``latentsync/utils/mask.png``), and it wipes and refills a hard-coded
  ``temp/`` there on every call: each call runs in a fresh directory holding links to the
  checkout's ``configs`` and ``latentsync`` and to the checkpoint directory, so two calls never
  share a ``temp/``, and the inputs are copied outside ``temp/`` (it would delete them);
- flags: the eight of the 1.5 release (``--unet_config_path``, whose default file does not
  exist, is always passed; the seed is fixed for repeatable output), steps and guidance from
  the preset;
- a frame without a face raises ``RuntimeError: Face not detected`` (exit 1, traceback):
  "Face not detected" (bisect);
- 1.5 cuts its output to a multiple of 16 frames of the shorter input (windows are multiples
  of 16, so nothing is lost; a short output fails validation); 1.6 follows the audio's
  chunks, two frames past our window, looping the video: the first frames are kept;
- the final mux's failure is not checked by the script (exit 0, no file): a failed call.
"""

from __future__ import annotations

import shutil
from itertools import islice
from pathlib import Path

from localization_core import frames, media
from localization_core.errors import LipSyncError
from localization_core.presets import LATENTSYNC_MAX_WINDOW_S, Tuning
from localization_core.providers.lipsync.subprocess_engine import SubprocessLipSyncer
from localization_core.timing import ENGINE_FPS

SEED = "1247"  # the script's own default, fixed: the same window gives the same frames
CONFIGS = {"1.5": "configs/unet/stage2.yaml", "1.6": "configs/unet/stage2_512.yaml"}


class LatentSyncLipSyncer(SubprocessLipSyncer):
    """LatentSync 1.5 or 1.6 (``LATENTSYNC_DIR``, ``_PYTHON``, ``_CHECKPOINTS``, ``_VERSION``)."""

    name = "latentsync"
    max_window_s = LATENTSYNC_MAX_WINDOW_S
    weights = ("latentsync_unet.pt", "whisper/tiny.pt")

    def sync(self, video: Path, audio: Path, out_path: Path, tuning: Tuning) -> Path:
        """One window in its own working directory; the output keeps the window's frames."""
        work = self.workdir(out_path)
        try:
            for name in ("configs", "latentsync"):
                (work / name).symlink_to(self.checkout.dir / name, target_is_directory=True)
            (work / "checkpoints").symlink_to(self.checkout.checkpoints, target_is_directory=True)
            inputs = work / "inputs"
            inputs.mkdir()
            shutil.copyfile(video, inputs / "video.mp4")
            shutil.copyfile(audio, inputs / "audio.wav")
            produced = work / "output.mp4"
            self.run(self.arguments(inputs, produced, tuning), work)
            if not produced.is_file() or produced.stat().st_size == 0:
                raise LipSyncError("latentsync exited 0 without an output (its final mux failed)")
            expected = media.probe(video).frame_count or 0
            _keep_first(produced, expected, out_path)
            return out_path
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def arguments(self, inputs: Path, produced: Path, tuning: Tuning) -> list[str]:
        """The 1.5 release's flags, with the preset's steps and guidance."""
        config = CONFIGS.get(self.checkout.version, CONFIGS["1.6"])
        return [
            "scripts.inference",
            "--unet_config_path", config,
            "--inference_ckpt_path", "checkpoints/latentsync_unet.pt",
            "--video_path", str(inputs / "video.mp4"),
            "--audio_path", str(inputs / "audio.wav"),
            "--video_out_path", str(produced),
            "--inference_steps", str(tuning.steps or 20),
            "--guidance_scale", str(tuning.guidance or 1.5),
            "--seed", SEED,
        ]  # fmt: skip


def _keep_first(produced: Path, expected: int, out_path: Path) -> None:
    """The engine's frames for the window: as produced, or the first ``expected`` of a longer
    output (1.6 follows the audio, two frames past it); a shorter one is left for validation
    to refuse."""
    if (media.probe(produced).frame_count or 0) <= expected:
        shutil.move(produced, out_path)
        return
    frames.write_rgb(islice(frames.read_rgb(produced), expected), out_path, fps=ENGINE_FPS)
