"""The demo sample, generated on any machine without test media.

About 30 s: a 3 s faceless title card, then scikit-image's public-domain astronaut photo with
slight camera motion, Italian espeak-ng speech with pauses, and a quiet stereo music bed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from localization_core import media
from localization_core.audio import Samples, read_audio, write_audio
from localization_core.providers.synthesis.base import VoiceHint
from localization_core.providers.synthesis.espeak import EspeakSynthesizer

LANGUAGE = "it"
DURATION_S = 30.0
TITLE_S = 3.0
FPS = 25
RATE = 44100
SIZE = (640, 480)
WORDS_PER_MINUTE = 130  # slow, clear speech: Whisper base translates it reliably
SENTENCES = (
    (3.6, "Oggi parliamo della città."),
    (7.6, "La casa è molto grande e bella."),
    (12.2, "Il caffè è molto caldo."),
    (19.0, "Grazie mille per l'attenzione."),
    (24.2, "Ci vediamo la prossima settimana."),
)


def _astronaut_png(path: Path) -> Path:
    import cv2
    from skimage import data

    rgb = data.astronaut()  # type: ignore[no-untyped-call]
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _music_bed(seconds: float) -> Samples:
    """A slow A-minor arpeggio, notes panned left and right, about -30 dBFS."""
    t = np.arange(int(seconds * RATE)) / RATE
    stereo = np.zeros((len(t), 2), dtype=np.float64)
    notes = (220.0, 261.63, 329.63, 392.0)
    for number, freq in enumerate(notes):
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * (0.25 * t - number / len(notes)))
        tone = np.sin(2 * np.pi * freq * t) * envelope
        pan = number / (len(notes) - 1)
        stereo[:, 0] += tone * (1 - pan)
        stereo[:, 1] += tone * pan
    return np.asarray(stereo * 0.02, dtype=np.float32)


def _speech_track(scratch: Path) -> Samples:
    """The Italian sentences placed at their start times (mono, RATE)."""
    track = np.zeros(int(DURATION_S * RATE), dtype=np.float32)
    synth = EspeakSynthesizer(WORDS_PER_MINUTE)
    for number, (start, text) in enumerate(SENTENCES):
        raw = synth.synthesize(
            text, LANGUAGE, VoiceHint(median_pitch_hz=120.0), scratch / f"s{number}.wav"
        )
        clip = media.resample_audio(raw, scratch / f"s{number}-44k.wav", rate=RATE, channels=1)
        samples, _ = read_audio(clip, mono=True)
        begin = int(start * RATE)
        end = min(len(track), begin + len(samples))
        track[begin:end] += samples[: end - begin] * 0.8
    return track


def _picture(scratch: Path) -> Path:
    """Title card (moving bars, no face) then the astronaut with slow motion."""
    width, height = SIZE
    photo = _astronaut_png(scratch / "astronaut.png")
    body_s = DURATION_S - TITLE_S
    card = (
        f"color=c=0x1d3557:s={width}x{height}:r={FPS}:d={TITLE_S},"
        f"drawbox=x='40+mod(t*120\\,{width - 200})':y=200:w=120:h=80:color=0xe63946:t=fill"
    )
    motion = (
        f"[1:v]scale=720:720,crop={width}:{height}:x='40+20*sin(t*0.8)':"
        f"y='40+15*sin(t*0.5)',fps={FPS},setsar=1,format=yuv420p[body]"
    )
    graph = f"[0:v]format=yuv420p,setsar=1[card];{motion};[card][body]concat=n=2:v=1:a=0[v]"
    args = [
        "-f",
        "lavfi",
        "-i",
        card,
        "-loop",
        "1",
        "-t",
        f"{body_s}",
        "-i",
        str(photo),
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-r",
        str(FPS),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "20",
        "-pix_fmt",
        "yuv420p",
    ]
    return media.render(args, scratch / "picture.mp4", what="render the demo picture")


def generate_sample(dst: Path) -> Path:
    """Write the demo sample to ``dst`` (atomically) and return it."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        picture = _picture(scratch)
        mix = _music_bed(DURATION_S)
        mix += _speech_track(scratch)[:, None]
        audio = write_audio(scratch / "audio.wav", mix, RATE)
        args = [
            "-i",
            str(picture),
            "-i",
            str(audio),
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-b:a",
            "160k",
            "-t",
            f"{DURATION_S}",
            "-movflags",
            "+faststart",
        ]
        return media.render(args, dst, what="mux the demo sample")
