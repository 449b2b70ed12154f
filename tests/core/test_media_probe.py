"""Probing real and deliberately broken media: facts, or one clear InvalidInputError."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from localization_core import media
from localization_core.audio import read_audio
from localization_core.errors import InvalidInputError
from tests.conftest import media_file


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The probe test set of the issue, made with ffmpeg."""
    out = tmp_path_factory.mktemp("probe")
    files = {
        name: out / name
        for name in (
            "empty.mp4",
            "text.mp4",
            "truncated.mp4",
            "audio_only.m4a",
            "video_only.mp4",
            "odd_721x405.mp4",
            "rotated.mp4",
            "surround.mp4",
            "fps60.mp4",
            "vfr.mp4",
            "full.mp4",
            "faststart.mp4",
            "truncated_faststart.mp4",
            "copy_cut.mp4",
        )
    }
    files["empty.mp4"].write_bytes(b"")
    files["text.mp4"].write_text("this is not a video\n" * 50)
    src = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2"]
    tone = ["-f", "lavfi", "-i", "sine=f=440:d=2"]
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    ffmpeg(*src, *tone, *h264, "-c:a", "aac", "-shortest", str(files["full.mp4"]))
    data = files["full.mp4"].read_bytes()
    files["truncated.mp4"].write_bytes(data[: len(data) * 2 // 5])
    ffmpeg(
        "-i",
        str(files["full.mp4"]),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        str(files["faststart.mp4"]),
    )
    data = files["faststart.mp4"].read_bytes()
    files["truncated_faststart.mp4"].write_bytes(data[: len(data) * 2 // 5])
    # A stream-copy cut from 2 s to 4 s of a 6 s clip: the audio table keeps the samples from
    # the video's keyframe on (a third more than the edit list plays), and it decodes cleanly.
    six = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine"]
    ffmpeg(*six, "-t", "6", *h264, "-c:a", "aac", str(out / "six.mp4"))
    ffmpeg(
        "-ss", "2", "-i", str(out / "six.mp4"), "-c", "copy", "-t", "2", str(files["copy_cut.mp4"])
    )
    ffmpeg(*tone, "-c:a", "aac", str(files["audio_only.m4a"]))
    ffmpeg(*src, *h264, str(files["video_only.mp4"]))
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=721x405:rate=25:duration=1",
        "-vf",
        "format=yuv444p",
        "-c:v",
        "libx264",
        str(files["odd_721x405.mp4"]),
    )
    ffmpeg(
        "-i",
        str(files["video_only.mp4"]),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        str(files["rotated.mp4"]),
    )
    ffmpeg(
        *src,
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=2",
        "-ac",
        "6",
        *h264,
        "-c:a",
        "aac",
        "-shortest",
        str(files["surround.mp4"]),
    )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=60:duration=1",
        *h264,
        str(files["fps60.mp4"]),
    )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30:duration=3",
        "-vf",
        "setpts='if(lt(N,30),N/30,1+(N-30)/10)/TB'",
        "-fps_mode",
        "vfr",
        *h264,
        str(files["vfr.mp4"]),
    )
    return files


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("empty.mp4", "empty"),
        ("text.mp4", "not readable media"),
        ("truncated.mp4", "not readable media"),
        ("truncated_faststart.mp4", "truncated"),
    ],
)
def test_unreadable_files_raise_one_clear_error(
    generated: dict[str, Path], name: str, why: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        media.probe(generated[name])
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert why in message
    assert "\n" not in message and "Traceback" not in message


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        media.probe(tmp_path / "nothing.mp4")


def test_audio_only_has_no_picture(generated: dict[str, Path]) -> None:
    facts = media.probe(generated["audio_only.m4a"])
    assert not facts.has_video and facts.has_audio
    assert facts.fps is None and facts.display_size is None
    assert facts.duration == pytest.approx(2.0, abs=0.05)


def test_video_only_has_no_audio(generated: dict[str, Path]) -> None:
    facts = media.probe(generated["video_only.mp4"])
    assert facts.has_video and not facts.has_audio
    assert facts.fps == Fraction(25)
    assert facts.frame_count == 50


def test_odd_size_is_exact(generated: dict[str, Path]) -> None:
    facts = media.probe(generated["odd_721x405.mp4"])
    assert (facts.width, facts.height) == (721, 405)


def test_rotation_swaps_display_size(generated: dict[str, Path]) -> None:
    facts = media.probe(generated["rotated.mp4"])
    assert facts.rotation % 180 == 90
    assert facts.display_size == (240, 320)
    assert media.probe(generated["video_only.mp4"]).rotation == 0


def test_surround_channels(generated: dict[str, Path]) -> None:
    (stream,) = media.probe(generated["surround.mp4"]).audio_streams
    assert stream.channels == 6
    assert stream.channel_layout == "5.1"


def test_sixty_fps_is_constant(generated: dict[str, Path]) -> None:
    facts = media.probe(generated["fps60.mp4"])
    assert facts.fps == Fraction(60) and not facts.vfr


def test_vfr_is_flagged(generated: dict[str, Path]) -> None:
    facts = media.probe(generated["vfr.mp4"])
    assert facts.vfr
    assert facts.duration == pytest.approx(7.0, abs=0.3)


@pytest.mark.parametrize(
    ("name", "fps", "size", "vfr"),
    [
        ("cuts_faceless_profile_30fps.mp4", Fraction(30), (1280, 720), False),
        ("talking_head_vfr.mp4", None, (700, 700), True),
        ("talking_head_portrait_hevc_25fps.mp4", Fraction(25), (1080, 1920), False),
        ("talking_head_512_25fps.mp4", Fraction(25), (512, 512), False),
    ],
)
def test_real_clips(name: str, fps: Fraction | None, size: tuple[int, int], vfr: bool) -> None:
    facts = media.probe(media_file(name))
    assert facts.vfr is vfr
    if fps is not None:
        assert facts.fps == fps
    assert facts.display_size == size
    assert facts.audio_streams and facts.audio_streams[0].channels == 2


def test_complete_faststart_file_is_fine(generated: dict[str, Path]) -> None:
    facts = media.probe(generated["faststart.mp4"])
    assert facts.has_video and facts.has_audio and facts.frame_count == 50


def test_audio_shorter_than_its_header_promises_is_not_truncated(
    generated: dict[str, Path], tmp_path: Path
) -> None:
    """Fewer audio packets play than the sample table lists, and nothing is missing."""
    facts = media.probe(generated["copy_cut.mp4"])
    assert facts.audio_duration == pytest.approx(2.0, abs=0.05)
    wav = media.extract_full_audio(generated["copy_cut.mp4"], tmp_path / "cut.wav")
    samples, rate = read_audio(wav)
    assert len(samples) / rate == pytest.approx(2.0, abs=0.1)


def test_random_cuts_never_escape_as_tracebacks(generated: dict[str, Path], tmp_path: Path) -> None:
    """Every prefix length of a real file gives facts or InvalidInputError, nothing else."""
    data = generated["faststart.mp4"].read_bytes()
    outcomes = set()
    for fraction in (0.01, 0.05, 0.2, 0.5, 0.8, 0.97, 1.0):
        path = tmp_path / f"cut_{fraction}.mp4"
        path.write_bytes(data[: int(len(data) * fraction)])
        try:
            media.probe(path)
            outcomes.add("facts")
        except InvalidInputError:
            outcomes.add("invalid")
    assert outcomes == {"facts", "invalid"}
