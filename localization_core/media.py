"""The only place that runs ffmpeg and ffprobe: probing, cutting, converting, mixing, muxing.

Every failure surfaces as one clear error: ``InvalidInputError`` for media that cannot be read,
``ProcessingError(stage="media")`` for a conversion that failed on readable input.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from localization_core.domain import AudioStream, Frozen, MediaProbe
from localization_core.errors import InvalidInputError, ProcessingError

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")
_TIMEOUT_S = 3600.0
_VFR_TOLERANCE = 0.01


class AudioTrack(Frozen):
    """An audio file to mux, with its language tag and a human title."""

    path: str
    language: str = "und"
    title: str = ""


class Loudness(Frozen):
    """EBU R128 measurement of a file."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra: float
    threshold: float


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"


def _completed(
    args: Sequence[str], *, what: str, timeout: float = _TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run one ffmpeg-family command to success (stdout and stderr) or raise ProcessingError."""
    try:
        proc = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ProcessingError("media", f"{what}: timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise ProcessingError("media", f"{what}: {_last_error_line(proc.stderr)}")
    return proc


def _run(args: Sequence[str], *, what: str, timeout: float = _TIMEOUT_S) -> str:
    """Run one ffmpeg-family command; returns stdout or raises ProcessingError."""
    return _completed(args, what=what, timeout=timeout).stdout


@contextmanager
def atomic_output(dst: Path) -> Iterator[Path]:
    """Yield a temp path beside ``dst`` (same suffix); rename onto ``dst`` only on success."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.", suffix=dst.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(0o644)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _ffmpeg(args: Sequence[str], dst: Path, *, what: str) -> Path:
    """Run ffmpeg writing to ``dst`` atomically (the output path is the last argument)."""
    with atomic_output(dst) as tmp:
        _run([FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-y", *args, str(tmp)], what=what)
    return dst


# --- probing -----------------------------------------------------------------------------


class _ProbeStream(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int = 0
    codec_type: str = ""
    codec_name: str = "unknown"
    width: int | None = None
    height: int | None = None
    r_frame_rate: str = "0/0"
    avg_frame_rate: str = "0/0"
    channels: int = 0
    channel_layout: str | None = None
    sample_rate: int = 0
    duration: float | None = None
    nb_frames: int | None = None
    nb_read_packets: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    side_data_list: list[dict[str, Any]] = Field(default_factory=list)
    disposition: dict[str, int] = Field(default_factory=dict)


class _ProbeFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    duration: float | None = None
    format_name: str = ""


class _ProbeOutput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    streams: list[_ProbeStream] = Field(default_factory=list)
    format: _ProbeFormat = Field(default_factory=_ProbeFormat)


def _fraction(text: str) -> Fraction | None:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or int(match.group(2)) == 0 or int(match.group(1)) == 0:
        return None
    return Fraction(int(match.group(1)), int(match.group(2)))


def _rotation(stream: _ProbeStream) -> int:
    for side in stream.side_data_list:
        if "rotation" in side:
            return int(-float(side["rotation"])) % 360
    if "rotate" in stream.tags:
        return int(float(stream.tags["rotate"])) % 360
    return 0


def _frame_rate(stream: _ProbeStream) -> tuple[Fraction | None, bool]:
    """The nominal frame rate and whether the stream is variable-rate."""
    real = _fraction(stream.r_frame_rate)
    average = _fraction(stream.avg_frame_rate)
    if real is None:
        return average, False
    if average is None:
        return real, False
    vfr = abs(float(real - average)) / float(real) > _VFR_TOLERANCE
    return (average if vfr else real), vfr


def _read_probe(path: Path) -> tuple[_ProbeOutput, str]:
    """ffprobe's facts after reading every packet, and what the demuxers reported meanwhile."""
    if not path.is_file():
        raise InvalidInputError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise InvalidInputError(f"{path.name}: the file is empty")
    args = [FFPROBE, "-v", "error", "-count_packets", "-print_format", "json"]
    args += ["-show_format", "-show_streams"]
    try:
        proc = _completed([*args, str(path)], what="ffprobe", timeout=120)
        return _ProbeOutput.model_validate(json.loads(proc.stdout)), proc.stderr
    except ProcessingError as exc:
        reason = exc.message.replace(f"{path}: ", "").removeprefix("ffprobe: ")
        raise InvalidInputError(f"{path.name}: not readable media ({reason})") from exc
    except (ValueError, ValidationError) as exc:
        raise InvalidInputError(f"{path.name}: ffprobe returned unusable data") from exc


# What ffmpeg's demuxers print when the bytes stop before the container says they do (mov/mp4,
# matroska/webm, and the generic short read). A packet count below the header's is not enough:
# a stream-copy cut keeps every sample in the table but an edit list plays only part of them.
_CUT_OFF_MARKERS = ("partial file", "ended prematurely", "truncating packet")


def _check_complete(path: Path, demuxer_report: str) -> None:
    """A file the demuxer ran out of while reading packets was cut off."""
    for line in demuxer_report.splitlines():
        if any(marker in line.lower() for marker in _CUT_OFF_MARKERS):
            reason = line.rsplit("]", 1)[-1].strip()
            raise InvalidInputError(f"{path.name}: truncated ({reason})")


def probe(path: Path) -> MediaProbe:
    """Facts about a media file, or one ``InvalidInputError`` when it cannot be read."""
    data, demuxer_report = _read_probe(path)
    video = next(
        (
            s
            for s in data.streams
            if s.codec_type == "video" and not s.disposition.get("attached_pic")
        ),
        None,
    )
    audio = tuple(
        AudioStream(
            index=s.index,
            codec=s.codec_name,
            channels=s.channels,
            sample_rate=s.sample_rate,
            channel_layout=s.channel_layout,
        )
        for s in data.streams
        if s.codec_type == "audio"
    )
    if video is None and not audio:
        raise InvalidInputError(f"{path.name}: no audio or video stream")
    _check_complete(path, demuxer_report)
    durations = [d for d in [data.format.duration, *(s.duration for s in data.streams)] if d]
    if not durations:
        raise InvalidInputError(f"{path.name}: duration unknown (truncated or not media)")
    facts: dict[str, Any] = {"duration": max(durations), "has_video": video is not None}
    first_audio = next((s for s in data.streams if s.codec_type == "audio"), None)
    facts["audio_duration"] = first_audio.duration if first_audio else None
    if video is not None:
        fps, vfr = _frame_rate(video)
        if not video.width or not video.height:
            raise InvalidInputError(f"{path.name}: video stream has no picture size")
        facts.update(
            width=video.width,
            height=video.height,
            fps_num=fps.numerator if fps else None,
            fps_den=fps.denominator if fps else None,
            vfr=vfr,
            rotation=_rotation(video),
            video_codec=video.codec_name,
            frame_count=video.nb_read_packets or video.nb_frames,  # what was read, not claimed
            video_duration=video.duration,
        )
    return MediaProbe(**facts, audio_streams=audio)


# --- audio ---------------------------------------------------------------------------------


def extract_speech_audio(
    src: Path, dst: Path, *, start: float = 0.0, end: float | None = None
) -> Path:
    """16 kHz mono PCM WAV of ``src`` (optionally a time range): what speech models read."""
    trim = ["-ss", f"{start:.3f}"] if start > 0 else []
    until = ["-t", f"{end - start:.3f}"] if end is not None else []
    args = [*trim, "-i", str(src), *until, "-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000"]
    return _ffmpeg([*args, "-c:a", "pcm_s16le"], dst, what=f"extract speech audio of {src.name}")


def extract_full_audio(src: Path, dst: Path, *, keep_channels: bool = False) -> Path:
    """Full-rate float WAV of the first audio stream: stereo (mono input duplicated, surround
    folded down), or with its own channels when ``keep_channels`` (the original track)."""
    layout = [] if keep_channels else ["-ac", "2"]
    args = ["-i", str(src), "-map", "0:a:0", "-vn", *layout, "-c:a", "pcm_f32le"]
    return _ffmpeg(args, dst, what=f"extract audio of {src.name}")


def audio_filter(src: Path, dst: Path, filtergraph: str, *, channels: int | None = None) -> Path:
    """Apply an ffmpeg audio filter chain, writing float WAV."""
    layout = ["-ac", str(channels)] if channels else []
    args = ["-i", str(src), "-vn", "-af", filtergraph, *layout, "-c:a", "pcm_f32le"]
    return _ffmpeg(args, dst, what=f"filter audio of {src.name}")


def measure_loudness(path: Path) -> Loudness:
    """EBU R128 integrated loudness, true peak and loudness range of an audio file."""
    args = [FFMPEG, "-nostdin", "-hide_banner", "-i", str(path), "-vn"]
    args += ["-af", "loudnorm=print_format=json", "-f", "null", "-"]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProcessingError("media", f"loudness of {path.name}: timed out") from exc
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", proc.stderr)
    if proc.returncode != 0 or match is None:
        raise ProcessingError("media", f"loudness of {path.name}: {_last_error_line(proc.stderr)}")
    data = json.loads(match.group(0))
    return Loudness(
        integrated_lufs=_finite(data["input_i"]),
        true_peak_dbtp=_finite(data["input_tp"]),
        lra=_finite(data["input_lra"], floor=0.0),
        threshold=_finite(data["input_thresh"]),
    )


def _finite(value: str, floor: float = -99.0) -> float:
    number = float(value)
    return number if math.isfinite(number) else floor


def normalize_loudness(
    src: Path, dst: Path, *, target_lufs: float = -16.0, true_peak: float = -1.5, lra: float = 11.0
) -> Path:
    """Two-pass EBU R128 normalization to ``target_lufs`` (linear when the range allows)."""
    measured = measure_loudness(src)
    if measured.integrated_lufs <= -70.0:
        return audio_filter(src, dst, "anull")
    graph = (
        f"loudnorm=I={target_lufs}:TP={true_peak}:LRA={lra}"
        f":measured_I={measured.integrated_lufs}:measured_TP={measured.true_peak_dbtp}"
        f":measured_LRA={measured.lra}:measured_thresh={measured.threshold}:linear=true"
    )
    args = ["-i", str(src), "-vn", "-af", graph, "-ar", "48000", "-c:a", "pcm_f32le"]
    return _ffmpeg(args, dst, what=f"normalize loudness of {src.name}")


# --- video ---------------------------------------------------------------------------------


def cut(src: Path, dst: Path, start: float, end: float) -> Path:
    """Frame-accurate cut of [start, end) seconds (re-encoded)."""
    if end <= start:
        raise ProcessingError("media", f"cut of {src.name}: empty range {start:.3f}-{end:.3f}")
    args = ["-ss", f"{start:.6f}", "-i", str(src), "-t", f"{end - start:.6f}"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    return _ffmpeg([*args, "-c:a", "aac"], dst, what=f"cut {src.name}")


def convert_fps(src: Path, dst: Path, fps: Fraction) -> Path:
    """Re-time a video to a constant ``fps`` (frames dropped or repeated by nearest timestamp)."""
    args = ["-i", str(src), "-vf", f"fps={fps.numerator}/{fps.denominator}", "-an"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    return _ffmpeg(args, dst, what=f"convert {src.name} to {float(fps):g} fps")


def concat(parts: Sequence[Path], dst: Path) -> Path:
    """Join clips of identical encoding end to end (stream copy)."""
    if not parts:
        raise ProcessingError("media", "concat: nothing to join")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        for part in parts:
            escaped = str(part.resolve()).replace("'", "'\\''")
            listing.write(f"file '{escaped}'\n")
    try:
        args = ["-f", "concat", "-safe", "0", "-i", listing.name, "-c", "copy"]
        return _ffmpeg(args, dst, what="concat")
    finally:
        os.unlink(listing.name)


def mux(
    video: Path,
    tracks: Sequence[AudioTrack],
    dst: Path,
    *,
    duration: float,
    rotation: int | None = None,
) -> Path:
    """Video stream of ``video`` plus ``tracks`` in order; the first track is the default.

    The output lasts ``duration`` (the picture): an audio track that ends sooner is padded with
    silence, one that goes on longer is cut there. Each track keeps its channel layout.
    ``rotation`` (clockwise degrees, as ``probe`` reports) flags a re-encoded picture that was
    stored unrotated, so it displays as its source did.
    """
    args = ["-i", str(video)]
    for track in tracks:
        args += ["-i", track.path]
    pads = ";".join(f"[{n}:a:0]apad[a{n}]" for n in range(1, len(tracks) + 1))
    args += ["-filter_complex", pads, "-map", "0:v:0"]
    for number in range(1, len(tracks) + 1):
        args += ["-map", f"[a{number}]"]
    args += ["-c:v", "copy", "-c:a", "aac", "-b:a", "192k", "-t", f"{duration:.3f}"]
    if rotation:  # ffmpeg's tag counts the other way round
        args += ["-metadata:s:v:0", f"rotate={-rotation % 360}"]
    for number, track in enumerate(tracks):
        args += [f"-metadata:s:a:{number}", f"language={track.language}"]
        if track.title:  # mp4 keeps a track's name as its handler name
            args += [f"-metadata:s:a:{number}", f"title={track.title}"]
            args += [f"-metadata:s:a:{number}", f"handler_name={track.title}"]
        args += [f"-disposition:a:{number}", "default" if number == 0 else "0"]
    return _ffmpeg([*args, "-movflags", "+faststart"], dst, what=f"mux {dst.name}")


FONTS_DIR = Path("/usr/share/fonts/truetype/dejavu")  # fonts-dejavu-core (the Makefile's apt)
_UPRIGHT = {90: "transpose=1", 180: "hflip,vflip", 270: "transpose=2"}


def _filter_path(path: Path) -> str:
    """``path`` as a filter option value: escaped for the option parser, then again for the
    filter graph parser (ffmpeg reads both levels)."""
    text = str(path)
    for char in ("\\", "'", ":"):
        text = text.replace(char, "\\" + char)
    for char in ("\\", "'", "[", "]", ",", ";"):
        text = text.replace(char, "\\" + char)
    return text


def burn_subtitles(video: Path, subtitles: Path, dst: Path, *, turn: int = 0) -> Path:
    """The picture of ``video`` with ``subtitles`` (ASS) drawn in, re-encoded once (H.264,
    CRF 18, every frame and timestamp kept). ``turn`` (clockwise degrees) first turns a picture
    stored unrotated upright; a source's own rotation flag is honoured by ffmpeg itself."""
    filters = [_UPRIGHT[turn]] if turn in _UPRIGHT else []
    filters.append(f"subtitles={_filter_path(subtitles)}:fontsdir={_filter_path(FONTS_DIR)}")
    args = ["-i", str(video), "-an", "-sn", "-vf", ",".join(filters), "-fps_mode", "passthrough"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    return _ffmpeg(args, dst, what=f"burn subtitles into {video.name}")


def render(args: Sequence[str], dst: Path, *, what: str) -> Path:
    """Run ffmpeg with ``args`` (inputs, filters, codecs) writing ``dst`` atomically.

    For generators (the demo sample, test fixtures) that need a filter graph of their own.
    """
    return _ffmpeg(args, dst, what=what)


def check_decodable(path: Path, seconds: float = 2.0) -> None:
    """Decode the first ``seconds`` of every stream; ``InvalidInputError`` if that fails."""
    args = [FFMPEG, "-nostdin", "-v", "error", "-t", f"{seconds}", "-i", str(path)]
    try:
        proc = subprocess.run(
            [*args, "-f", "null", "-"], capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise InvalidInputError(f"{path.name}: decoding timed out") from exc
    if proc.returncode != 0 or proc.stderr.strip():
        reason = _last_error_line(proc.stderr).replace(f"{path}: ", "")
        raise InvalidInputError(f"{path.name}: cannot be decoded ({reason})")


def resample_audio(src: Path, dst: Path, *, rate: int, channels: int) -> Path:
    """Float WAV at ``rate`` Hz with ``channels`` channels."""
    args = ["-i", str(src), "-vn", "-ar", str(rate), "-ac", str(channels), "-c:a", "pcm_f32le"]
    return _ffmpeg(args, dst, what=f"resample {src.name}")


def frame_times(path: Path) -> list[float]:
    """Presentation time of every video frame, from the stream start, in display order."""
    args = [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time"]
    raw = _run([*args, "-of", "csv=p=0", str(path)], what="list frame times", timeout=300)
    stamps = sorted(float(v) for v in raw.split() if v.strip() not in ("", "N/A"))
    return [round(t - stamps[0], 6) for t in stamps] if stamps else []


def decode_gray_frames(path: Path, *, height: int) -> Iterator[npt.NDArray[np.uint8]]:
    """Every frame (no rate conversion), grey, upright as a viewer sees it (ffmpeg applies the
    rotation flag), scaled to ``height`` rows (even width)."""
    facts = probe(path)
    shown = facts.display_size
    if not facts.has_video or shown is None:
        raise InvalidInputError(f"{path.name}: no video stream to decode")
    width = max(2, round(shown[0] * height / shown[1] / 2) * 2)
    args = [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-an", "-fps_mode", "passthrough"]
    args += ["-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    size = width * height
    try:
        while len(raw := proc.stdout.read(size)) == size:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width)
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
