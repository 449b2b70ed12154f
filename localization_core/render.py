"""Smart render of a composite: copy the source's untouched GOPs packet for packet and
re-encode only the GOPs a synced window touches.

Where it applies: an H.264 source in MP4 (length-prefixed NAL units, 4-byte lengths) whose GOPs
are closed (every frame of a GOP is shown at or after its keyframe and before the next one), so
each GOP decodes and can be replaced on its own. Re-encoded GOPs are H.264 without B-frames,
carrying their own parameter sets in band; the first copied keyframe after them carries the
source's again, so a decoder switches back. Timestamps are the source's: presentation times
frame for frame, decode times from the source's own sequence. Anything else (HEVC, open GOPs,
other containers) returns None and the caller re-encodes the whole picture once.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from localization_core.frames import FIDELITY, Image
from localization_core.media import atomic_output

if TYPE_CHECKING:
    import av

# re-encoded GOPs: the full encode's fidelity, without B-frames (decode order = display order,
# so the source's decode times fit them) and with no keyframe but the first
OPTIONS = {**FIDELITY, "bf": "0", "g": "100000"}


@dataclass
class _Packet:
    pts: int
    dts: int
    keyframe: bool
    data: bytes


@dataclass
class _Gop:
    packets: list[_Packet] = field(default_factory=list)

    @property
    def frames(self) -> list[int]:
        """Presentation times of the GOP's frames, in display order."""
        return sorted(p.pts for p in self.packets)


@dataclass(frozen=True)
class RenderStats:
    """What a smart render did: GOPs copied and re-encoded, frames re-encoded."""

    gops_copied: int
    gops_reencoded: int
    frames_reencoded: int


def smart_render(
    src: Path, dst: Path, replace: Callable[[int], Image | None], changed: set[int]
) -> RenderStats | None:
    """Write ``dst`` with the frames ``replace`` changes (indices in display order, all in
    ``changed``), copying every GOP that holds none of them; None when ``src`` does not allow
    it (nothing is written then)."""
    import av

    with av.open(str(src)) as source:
        stream = source.streams.video[0]
        gops = _closed_gops(source, stream)
        extradata = stream.codec_context.extradata
        if gops is None or extradata is None or not _avcc_with_4_byte_lengths(extradata):
            return None
        order = {
            pts: index for index, pts in enumerate(sorted(p.pts for g in gops for p in g.packets))
        }
        touched = [any(order[pts] in changed for pts in gop.frames) for gop in gops]
        with atomic_output(dst) as tmp, av.open(str(tmp), "w", format="mp4") as out:
            target = out.add_stream_from_template(stream)
            writer = _Writer(out, target, stream, _parameter_sets(extradata))
            for run, edit in _runs(gops, touched):
                if edit:
                    writer.reencode(run, order, replace)
                else:
                    writer.copy(run)
    return RenderStats(
        gops_copied=touched.count(False),
        gops_reencoded=touched.count(True),
        frames_reencoded=sum(len(g.packets) for g, t in zip(gops, touched, strict=True) if t),
    )


def _closed_gops(source: av.container.InputContainer, stream: av.VideoStream) -> list[_Gop] | None:
    """The stream's packets by GOP, or None unless it is H.264 with closed GOPs."""
    if stream.codec_context.name != "h264":
        return None
    gops: list[_Gop] = []
    for packet in source.demux(stream):
        if packet.size == 0 or packet.pts is None or packet.dts is None:
            continue
        item = _Packet(packet.pts, packet.dts, bool(packet.is_keyframe), bytes(packet))
        if item.keyframe or not gops:
            gops.append(_Gop())
        gops[-1].packets.append(item)
    if not gops or not gops[0].packets[0].keyframe:
        return None
    for gop, following in zip(gops, [*gops[1:], None], strict=True):
        first = gop.packets[0].pts
        if min(gop.frames) != first:
            return None
        if following is not None and max(gop.frames) >= following.packets[0].pts:
            return None
    return gops


def _runs(gops: list[_Gop], touched: list[bool]) -> Iterator[tuple[list[_Gop], bool]]:
    """Consecutive GOPs that are all copied or all re-encoded."""
    run: list[_Gop] = []
    for index, gop in enumerate(gops):
        if run and touched[index] != touched[index - 1]:
            yield run, touched[index - 1]
            run = []
        run.append(gop)
    if run:
        yield run, touched[len(gops) - 1]


def _avcc_with_4_byte_lengths(extradata: bytes) -> bool:
    """An avcC record (MP4 H.264) whose NAL units carry 4-byte lengths."""
    return len(extradata) > 6 and extradata[0] == 1 and (extradata[4] & 0x03) == 3


def _parameter_sets(extradata: bytes) -> bytes:
    """The avcC record's SPS and PPS as length-prefixed NAL units (to put back in band)."""
    units: list[bytes] = []
    offset = 5
    for _ in range(2):  # the SPS list, then the PPS list
        count = extradata[offset] & (0x1F if not units else 0xFF)
        offset += 1
        for _ in range(count):
            (size,) = struct.unpack(">H", extradata[offset : offset + 2])
            units.append(extradata[offset + 2 : offset + 2 + size])
            offset += 2 + size
    return b"".join(struct.pack(">I", len(unit)) + unit for unit in units)


def _length_prefixed(annexb: bytes) -> bytes:
    """Annex B (start codes) to MP4's 4-byte length prefixes. A NAL unit never ends in a zero
    byte, so zeros before a start code belong to the start code."""
    units = [unit.rstrip(b"\x00") for unit in annexb.split(b"\x00\x00\x01")]
    return b"".join(struct.pack(">I", len(unit)) + unit for unit in units if unit)


class _Writer:
    """Packets into the output stream, copied or freshly encoded, with source timestamps."""

    def __init__(
        self,
        out: av.container.OutputContainer,
        target: av.VideoStream,
        source: av.VideoStream,
        source_sets: bytes,
    ) -> None:
        self.out, self.target, self.source, self.sets = out, target, source, source_sets
        self.base = source.time_base or Fraction(1, 90000)
        self.switched = False  # the last packets written carried other parameter sets

    def _mux(self, data: bytes, pts: int, dts: int, keyframe: bool) -> None:
        import av

        packet = av.Packet(data)
        packet.pts, packet.dts = pts, dts
        packet.time_base = self.base
        packet.is_keyframe = keyframe
        packet.stream = self.target
        self.out.mux(packet)

    def copy(self, gops: list[_Gop]) -> None:
        """The source's packets as they are (its parameter sets first after a re-encode)."""
        for gop in gops:
            for packet in gop.packets:
                data = packet.data
                if self.switched and packet.keyframe:
                    data, self.switched = self.sets + data, False
                self._mux(data, packet.pts, packet.dts, packet.keyframe)

    def reencode(
        self, gops: list[_Gop], order: dict[int, int], replace: Callable[[int], Image | None]
    ) -> None:
        """Decode these GOPs, replace frames, encode them again (no B-frames), and write the
        packets with the frames' own presentation times and the source's decode times."""
        import av

        decoder = av.CodecContext.create("h264", "r")
        assert isinstance(decoder, av.VideoCodecContext)
        decoder.extradata = self.source.codec_context.extradata
        encoder: av.VideoCodecContext | None = None
        decode_times = iter(sorted(p.dts for g in gops for p in g.packets))
        previous_changed = False
        for frame in self._decoded(decoder, gops):
            encoder = encoder or self._encoder(frame)
            image = replace(order[frame.pts or 0])
            picture = frame if image is None else _retagged(image, frame)
            picture.pts, picture.time_base = frame.pts, self.base
            if previous_changed and image is None:  # back to source frames: predict from none
                picture.pict_type = av.video.frame.PictureType.I
            previous_changed = image is not None
            for packet in encoder.encode(picture):
                self._write_encoded(packet, decode_times)
        if encoder is not None:
            for packet in encoder.encode(None):
                self._write_encoded(packet, decode_times)
        self.switched = True

    def _decoded(self, decoder: av.VideoCodecContext, gops: list[_Gop]) -> list[av.VideoFrame]:
        import av

        frames: list[av.VideoFrame] = []
        for gop in gops:
            for item in gop.packets:
                packet = av.Packet(item.data)
                packet.pts, packet.dts, packet.time_base = item.pts, item.dts, self.base
                frames.extend(decoder.decode(packet))
        frames.extend(decoder.decode(None))
        return sorted(frames, key=lambda f: f.pts or 0)

    def _encoder(self, first: av.VideoFrame) -> av.VideoCodecContext:
        import av

        encoder = av.CodecContext.create("libx264", "w")
        assert isinstance(encoder, av.VideoCodecContext)
        encoder.width, encoder.height = first.width, first.height
        encoder.pix_fmt = first.format.name
        encoder.time_base = self.base
        encoder.framerate = self.source.average_rate or Fraction(25)
        encoder.colorspace, encoder.color_range = first.colorspace, first.color_range
        encoder.color_primaries, encoder.color_trc = first.color_primaries, first.color_trc
        encoder.options = dict(OPTIONS)
        return encoder

    def _write_encoded(
        self, packet: av.Packet[av.VideoStream], decode_times: Iterator[int]
    ) -> None:
        assert packet.pts is not None
        self._mux(_length_prefixed(bytes(packet)), packet.pts, next(decode_times),
                  bool(packet.is_keyframe))  # fmt: skip


def _retagged(image: Image, like: av.VideoFrame) -> av.VideoFrame:
    """An RGB picture in the pixel format and colour matrix of the frame it replaces."""
    import av

    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    return frame.reformat(
        format=like.format.name, dst_colorspace=like.colorspace, dst_color_range=like.color_range
    )
