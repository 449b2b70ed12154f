"""Frame-level video IO through PyAV (the FFmpeg bindings faster-whisper already brings):
engine clips read and written as RGB arrays, and a source re-encoded frame by frame with its
own timestamps, so a composite keeps the source's frame count and VFR timing exactly."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from localization_core.errors import ProcessingError
from localization_core.media import atomic_output

if TYPE_CHECKING:
    import av

Image = npt.NDArray[np.uint8]
# face detection (face_track and the preview engine see the same faces): a face is usable from
# 64 source pixels high, looked for with OpenCV's Haar frontal cascade on frames at most this
# many rows high
MIN_FACE_PX = 64
FACE_SCAN_HEIGHT = 432
# the frames around a synced window must stay the source's (>= 45 dB PSNR, even next to a
# frame that changed a lot): a low CRF tuned for fidelity, not for perceived quality
FIDELITY = {"crf": "6", "tune": "psnr", "preset": "veryfast"}
_FAMILIES = {"yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le"}


def read_rgb(path: Path) -> Iterator[Image]:
    """Every frame of ``path`` as an ``(h, w, 3)`` RGB array, in presentation order."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def write_rgb(frames: Iterable[Image], dst: Path, *, fps: int) -> int:
    """Encode RGB frames at a constant ``fps`` as H.264 (atomically); returns the frame count."""
    import av

    count = 0
    with atomic_output(dst) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream: av.VideoStream | None = None
        for image in frames:
            if stream is None:
                stream = _h264(container, image.shape[1], image.shape[0], "yuv420p", fps)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        if stream is None:
            raise ProcessingError("lipsync", f"{dst.name}: no frames to write")
        container.mux(stream.encode(None))
    return count


def _h264(
    container: av.container.OutputContainer,
    width: int,
    height: int,
    pix_fmt: str,
    rate: Fraction | int,
) -> av.VideoStream:
    """An H.264 stream at ``pix_fmt``, visually lossless."""
    stream: av.VideoStream = container.add_stream("libx264", rate=rate, options=dict(FIDELITY))
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    return stream


def pixel_family(pix_fmt: str | None) -> str:
    """The H.264 pixel format nearest the source's (chroma layout and bit depth kept)."""
    if pix_fmt in _FAMILIES:
        return pix_fmt
    if pix_fmt == "yuvj420p":
        return "yuv420p"
    return "yuv420p"


Replace = Callable[[int], Image | None]


def reencode(src: Path, dst: Path, replace: Replace) -> int:
    """Re-encode the picture of ``src`` into ``dst`` (video only, atomically), frame for frame
    with the source's timestamps and colour tags; ``replace(index)`` returns a new picture
    (RGB, as stored, not rotated) or None to keep the decoded frame untouched. Returns frames
    written."""
    import av

    with (
        av.open(str(src)) as source,
        atomic_output(dst) as tmp,
        av.open(str(tmp), "w", format="mp4") as out,
    ):
        return _copy_frames(source, out, replace)


def _copy_frames(
    source: av.container.InputContainer, out: av.container.OutputContainer, replace: Replace
) -> int:
    """Decode, replace what ``replace`` asks for, encode with the same timestamps."""
    decoded = source.streams.video[0]
    start = decoded.start_time or 0
    base = decoded.time_base or Fraction(1, 90000)
    stream: av.VideoStream | None = None
    count = 0
    for frame in source.decode(decoded):
        if stream is None:  # the decoder knows the colour tags once it has a frame
            stream = _like(out, decoded, frame)
        image = replace(count)
        picture = frame if image is None else _tagged(image, stream.pix_fmt, frame)
        picture.pts = (frame.pts if frame.pts is not None else start) - start
        picture.time_base = base
        out.mux(stream.encode(picture))
        count += 1
    if stream is None:
        raise ProcessingError("lipsync", "the source picture has no frames")
    out.mux(stream.encode(None))
    return count


def _like(
    out: av.container.OutputContainer, decoded: av.VideoStream, first: av.VideoFrame
) -> av.VideoStream:
    """An output stream with the source's size, pixel family, time base and colour tags, so
    an untouched frame converts to RGB exactly as the source's does."""
    context = decoded.codec_context
    rate = decoded.average_rate or Fraction(25)
    stream = _h264(out, context.width, context.height, pixel_family(context.pix_fmt), rate)
    stream.time_base = stream.codec_context.time_base = decoded.time_base or Fraction(1, 90000)
    target = stream.codec_context
    target.colorspace, target.color_range = first.colorspace, first.color_range
    target.color_primaries, target.color_trc = first.color_primaries, first.color_trc
    return stream


def _tagged(image: Image, pix_fmt: str | None, like: av.VideoFrame) -> av.VideoFrame:
    """An RGB picture converted with the colour matrix and range of the frame it replaces."""
    import av

    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    return frame.reformat(
        format=pix_fmt, dst_colorspace=like.colorspace, dst_color_range=like.color_range
    )
