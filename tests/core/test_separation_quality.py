"""Separation measured, not assumed: built dual-mono mixes of clean speech and a known bed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import separation_harness as harness


@pytest.fixture(scope="module")
def jfk() -> harness.Signal:
    return harness.load_speech("speech_en_jfk.flac")


@pytest.mark.parametrize(("bed", "level_db"), [("music", -6.0), ("noise", 0.0)])
def test_the_default_leaves_far_less_of_the_speaker_in_the_background_than_ducking(
    jfk: harness.Signal, bed: str, level_db: float, tmp_path: Path
) -> None:
    ducking = harness.measure("ffmpeg", "jfk", jfk, bed, level_db, tmp_path)
    default = harness.measure("auto", "jfk", jfk, bed, level_db, tmp_path)
    assert ducking.method == "ducking" and default.method == "deepfilternet"
    # the bed's chance correlation with the speech only adds to the measure: an upper bound
    assert default.leakage_db <= ducking.leakage_db - 10, (default, ducking)
    # a cleaner vocals stem and a background that is more bed than the mix was
    assert default.sdr_gain_db > 2 and default.bed_gain_db > 0.5, default


def test_the_table_covers_every_bed_level_and_separator(
    tmp_path: Path, jfk: harness.Signal
) -> None:
    rows = [harness.measure(p, "jfk", jfk, "noise", -12.0, tmp_path) for p in ("ffmpeg", "auto")]
    table = harness.markdown(rows).splitlines()
    assert len(table) == 4
    assert table[2].startswith("| auto (deepfilternet) | noise | -12 dB |")
    assert table[3].startswith("| ffmpeg (ducking) | noise | -12 dB |")
