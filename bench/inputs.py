"""The bench's inputs, built at bench time from the held-in clips of tests/media.

Every input carries French speech (the held-in French sentence, then 1.5 s of room, looped) so
each run transcribes, translates, dubs and plans lip-sync the way a real localization does.
Longer inputs loop a clip's picture with its packets copied (no re-encode: the codec and its
cost per frame stay the clip's).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

MEDIA = Path(__file__).resolve().parent.parent / "tests" / "media"
PAUSE_S = 1.5


@dataclass(frozen=True)
class Input:
    """One bench input: its name, file, and what it stands for."""

    name: str
    path: Path
    seconds: float
    kind: str


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=600)


def _speech_unit(folder: Path) -> Path:
    """The French sentence followed by a pause, 44.1 kHz stereo."""
    unit = folder / "speech-unit.wav"
    if not unit.exists():
        _ffmpeg("-i", str(MEDIA / "speech_fr.flac"), "-af", f"apad=pad_dur={PAUSE_S}",
                "-ar", "44100", "-ac", "2", str(unit))  # fmt: skip
    return unit


def looped(folder: Path, clip: str, seconds: float, name: str) -> Path:
    """``clip``'s picture looped to ``seconds`` (packets copied) with looped French speech."""
    out = folder / f"{name}.mp4"
    if out.exists():
        return out
    unit = _speech_unit(folder)
    _ffmpeg("-stream_loop", "-1", "-i", str(MEDIA / clip), "-stream_loop", "-1", "-i", str(unit),
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
            "-t", f"{seconds:.3f}", "-movflags", "+faststart", str(out))  # fmt: skip
    return out


def build(folder: Path, *, quick: bool) -> dict[str, Input]:
    """The inputs of a full bench (30 s 720p H.264, 30 s and 5 min 1080x1920 HEVC, the 8 s face
    clip) or of a quick one (the 8 s face clip)."""
    folder.mkdir(parents=True, exist_ok=True)
    if quick:
        specs = [("face-8s", "talking_head_512_25fps.mp4", 8.0, "512x512 MPEG-4, 8 s")]
    else:
        specs = [
            ("h264-720p-30s", "cuts_faceless_profile_30fps.mp4", 30.0, "1280x720 H.264, 30 s"),
            ("hevc-1080p-30s", "talking_head_portrait_hevc_25fps.mp4", 30.0,
             "1080x1920 HEVC, 30 s"),
            ("hevc-1080p-5min", "talking_head_portrait_hevc_25fps.mp4", 300.0,
             "1080x1920 HEVC, 5 min"),
            ("face-8s", "talking_head_512_25fps.mp4", 8.0, "512x512 MPEG-4, 8 s"),
        ]  # fmt: skip
    return {
        name: Input(name, looped(folder, clip, seconds, name), seconds, kind)
        for name, clip, seconds, kind in specs
    }
