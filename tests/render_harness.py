"""Smart render against a full re-encode on one clip: the time each takes, the sizes, and
what a viewer would check on both outputs. Shared by the lip-sync tests and `make bench`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from localization_core import frames, media, render
from localization_core.frames import Image
from tests.conftest import ffmpeg, media_file
from tests.picture_checks import LOSSLESS_DB, psnr

UNCHANGED_DB = 45.0


@dataclass(frozen=True)
class Comparison:
    smart_s: float
    full_s: float
    smart_bytes: int
    full_bytes: int
    stats: render.RenderStats

    @property
    def speedup(self) -> float:
        return self.full_s / self.smart_s


def short_gop_clip(dst: Path, seconds: int = 60, gop: int = 25) -> Path:
    """The 512x512 face clip looped to ``seconds`` as H.264 with a keyframe every ``gop``
    frames (closed GOPs, B-frames as x264 chooses)."""
    ffmpeg("-stream_loop", "-1", "-i", str(media_file("talking_head_512_25fps.mp4")),
           "-t", str(seconds), "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
           "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
           str(dst))  # fmt: skip
    return dst


def marked(index: int, before: Image) -> Image:
    """A visibly changed frame (a band whose shade follows the frame number)."""
    after = before.copy()
    after[200:320, 150:360] = (index * 7) % 256
    return after


def compare(clip: Path, spans: Sequence[tuple[int, int]], scratch: Path) -> Comparison:
    """Render ``clip`` with the frames of ``spans`` (frame ranges) changed, both ways."""
    changed = {i for start, end in spans for i in range(start, end)}
    originals = {i: f for i, f in enumerate(frames.read_rgb(clip)) if i in changed}

    def replace(index: int) -> Image | None:
        return marked(index, originals[index]) if index in changed else None

    started = time.monotonic()
    stats = render.smart_render(clip, scratch / "smart.mp4", replace, changed)
    smart_s = time.monotonic() - started
    assert stats is not None, "the clip allows a smart render"
    started = time.monotonic()
    frames.reencode(clip, scratch / "full.mp4", replace)
    full_s = time.monotonic() - started
    return Comparison(smart_s, full_s, (scratch / "smart.mp4").stat().st_size,
                      (scratch / "full.mp4").stat().st_size, stats)  # fmt: skip


def check_output(clip: Path, output: Path, spans: Sequence[tuple[int, int]]) -> dict[str, float]:
    """Item 1's checks: same frame count and duration; changed frames show the change; every
    other frame is the source's (>= 45 dB). Returns the worst figures."""
    source, result = media.probe(clip), media.probe(output)
    assert result.frame_count == source.frame_count
    assert abs(result.duration - source.duration) <= 1 / 25 + 1e-3
    changed = {i for start, end in spans for i in range(start, end)}
    worst_unchanged, worst_changed, identical = LOSSLESS_DB, LOSSLESS_DB, 0
    pairs = zip(frames.read_rgb(clip), frames.read_rgb(output), strict=True)
    for index, (before, after) in enumerate(pairs):
        if index in changed:
            worst_changed = min(worst_changed, psnr(marked(index, before), after))
        else:
            score = psnr(before, after)
            worst_unchanged = min(worst_unchanged, score)
            identical += score == LOSSLESS_DB
    assert worst_unchanged >= UNCHANGED_DB, worst_unchanged
    assert worst_changed >= 35.0, worst_changed
    return {"worst_unchanged_db": worst_unchanged, "worst_changed_db": worst_changed,
            "identical_frames": identical}  # fmt: skip


def copied_packets_identical(clip: Path, output: Path) -> int:
    """How many of the output's packets are the source's own bytes (a copied keyframe may
    carry the source's parameter sets in front)."""
    with av.open(str(clip)) as a, av.open(str(output)) as b:
        source = {p.pts: bytes(p) for p in a.demux(a.streams.video[0]) if p.size}
        same = 0
        for packet in b.demux(b.streams.video[0]):
            if packet.size and packet.pts in source and bytes(packet).endswith(source[packet.pts]):
                same += 1
    return same
