"""No mouth change: the window keeps its original frames and only the audio is dubbed."""

from __future__ import annotations

import shutil
from pathlib import Path

from localization_core.media import atomic_output
from localization_core.presets import Tuning
from localization_core.providers.lipsync.base import LipSyncer


class DubOnlyLipSyncer(LipSyncer):
    """The fallback engine: returns the window clip unchanged (no GPU)."""

    name = "dub_only"
    version = "1"
    checkpoint_hash = "none"  # no weights
    max_window_s = 120.0
    changes_frames = False

    def sync(self, video: Path, audio: Path, out_path: Path, tuning: Tuning) -> Path:
        """Copy the clip; ``audio`` is muxed later with the whole dub track."""
        del audio, tuning
        with atomic_output(out_path) as tmp:
            shutil.copyfile(video, tmp)
        return out_path
