"""Burned-in subtitles: readable text in the lower part of the picture while a cue is on
screen, the rest of the picture as it was, every frame and timestamp kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from localization_core import media
from localization_core.subtitles import Cue, write_burn_in
from tests.conftest import media_file
from tests.picture_checks import frame_pairs, psnr

CUE = Cue(line_id=1, start=1.0, end=2.5, text="Subtitles drawn into\nthe picture itself")


def test_a_cue_is_drawn_at_the_bottom_only_while_it_is_on_screen(tmp_path: Path) -> None:
    clip = media_file("talking_head_vfr.mp4")  # variable frame rate: timestamps must survive
    size = media.probe(clip).display_size
    assert size is not None
    ass = write_burn_in([CUE], tmp_path / "cues.ass", size)
    burned = media.burn_subtitles(clip, ass, tmp_path / "burned.mp4")
    assert media.frame_times(burned) == media.frame_times(clip)
    height = size[1]
    shown, hidden, above = [], [], []
    for moment, (before, after) in zip(
        media.frame_times(clip), frame_pairs(clip, burned), strict=True
    ):
        bottom = slice(int(height * 0.7), height)
        change = float(np.abs(before[bottom].astype(int) - after[bottom].astype(int)).mean())
        if CUE.start + 0.05 < moment < CUE.end - 0.05:
            shown.append(change)
        elif not CUE.start - 0.05 <= moment <= CUE.end + 0.05:
            hidden.append(change)
        above.append(psnr(before[: int(height * 0.6)], after[: int(height * 0.6)]))
    print(f"bottom change on screen {np.mean(shown):.1f}, off screen {np.mean(hidden):.1f}")
    assert min(shown) > 3 * max(hidden), (min(shown), max(hidden))
    assert min(above) > 35.0, "the picture above the subtitles is kept (one CRF 18 encode)"
