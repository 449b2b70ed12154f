"""Smart render vs a full re-encode on a 60 s H.264 clip with 1 s GOPs, where the changed
frames (as a lip-sync would change them) cover under half of the picture: the smart path
copies untouched GOPs packet for packet, is at least twice as fast, and both outputs pass the
lip-sync output checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.render_harness import check_output, compare, copied_packets_identical, short_gop_clip

# frame ranges at 25 fps, deliberately off the GOP grid: 18.4 s of 60 s changed
SPANS = [(80, 170), (310, 420), (530, 600), (790, 900), (1000, 1110), (1300, 1370)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_gop_clip(tmp_path_factory.mktemp("render") / "long.mp4")


def test_smart_render_is_twice_as_fast_and_both_outputs_pass(clip: Path, tmp_path: Path) -> None:
    result = compare(clip, SPANS, tmp_path)
    print(
        f"smart {result.smart_s:.2f} s, {result.smart_bytes} bytes; full {result.full_s:.2f} s,"
        f" {result.full_bytes} bytes; speedup {result.speedup:.2f}x; {result.stats}"
    )
    assert result.speedup >= 2.0
    assert result.stats.gops_copied > result.stats.gops_reencoded > 0
    smart = check_output(clip, tmp_path / "smart.mp4", SPANS)
    full = check_output(clip, tmp_path / "full.mp4", SPANS)
    copied = copied_packets_identical(clip, tmp_path / "smart.mp4")
    assert copied == 25 * result.stats.gops_copied, "every copied GOP is the source's bytes"
    assert smart["identical_frames"] >= copied and full["identical_frames"] == 0
