"""`resemblyzer`: speaker diarization on CPU with resemblyzer's packaged speaker encoder.

The encoder (GE2E, Wan et al. 2018; the weights ship inside the ``resemblyzer`` wheel) turns
1.6 s of speech into a 256-dimensional voice embedding. Windows slide over the speech the
transcript found (never over silence), their embeddings are clustered by average-linkage
cosine distance, and each window's speaker becomes a turn. The count is automatic (clusters
further apart than ``SAME_SPEAKER_DISTANCE`` are different people, and a cluster with under
``MIN_SPEAKER_S`` of speech joins its nearest neighbour) unless the caller fixes it.

torch and resemblyzer are imported here, only when this provider runs.
"""

from __future__ import annotations

import itertools
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from localization_core import media
from localization_core.audio import Samples, read_audio
from localization_core.domain import Span, Turn
from localization_core.errors import ConfigurationError
from localization_core.providers.diarization.base import Diarizer, by_first_appearance

RATE = 16000  # the encoder's sampling rate
WINDOW_S = 1.6  # the encoder's partial utterance (160 mel frames of 10 ms)
HOP_S = 0.4
MIN_PIECE_S = 0.5  # shorter speech takes the speaker of the nearest window
LEVEL_DBFS = -30.0  # the encoder's training level (its mel spectrogram is not logarithmic)
FINE_DISTANCE = 0.2  # first pass: windows this close are surely one speaker
SAME_SPEAKER_DISTANCE = 0.38  # centroids closer than this are one speaker
MAX_CLUSTERED = 2000  # windows clustered (about 13 min of speech); the rest join the nearest
BATCH = 256  # windows through the encoder at a time (its memory does not grow with the video)
MIN_SPEAKER_S = 2.0

Window = tuple[float, float]


def _import_encoder() -> tuple[Any, Any, Any]:
    """torch, resemblyzer's ``VoiceEncoder`` and its ``audio`` module, or one line saying how to
    install them."""
    try:
        import torch

        with warnings.catch_warnings():  # webrtcvad reads its version through pkg_resources,
            warnings.simplefilter("ignore", UserWarning)  # and it imports a scipy alias
            warnings.simplefilter("ignore", DeprecationWarning)
            from resemblyzer import VoiceEncoder, audio
    except ImportError as exc:
        raise ConfigurationError(
            f"DIARIZER_PROVIDER=resemblyzer needs resemblyzer and torch ({exc.name} is missing):"
            " pip install '.[diarization]'"
        ) from exc
    return torch, VoiceEncoder, audio


def windows(speech: Sequence[Span]) -> list[Window]:
    """Encoder windows over ``speech``: 1.6 s every 0.4 s, the last one flush with the span's
    end; a span under 1.6 s is one window; one under 0.5 s none."""
    found: list[Window] = []
    for span in speech:
        if span.duration < MIN_PIECE_S:
            continue
        if span.duration <= WINDOW_S:
            found.append((span.start, span.end))
            continue
        count = int(np.ceil((span.duration - WINDOW_S) / HOP_S - 1e-9)) + 1
        starts = [min(span.start + i * HOP_S, span.end - WINDOW_S) for i in range(count)]
        found.extend((start, start + WINDOW_S) for start in starts)
    return found


def owned_seconds(found: Sequence[Window]) -> list[float]:
    """About how much speech each window stands for: a lone window its length, a window among
    overlapping ones its hop."""
    owned = []
    for i, (start, end) in enumerate(found):
        joined = (i > 0 and found[i - 1][1] > start) or (
            i + 1 < len(found) and found[i + 1][0] < end
        )
        owned.append(HOP_S if joined else end - start)
    return owned


def cluster(embeddings: Samples, speakers: int | None, seconds_each: Sequence[float]) -> list[int]:
    """A speaker index per embedding.

    Average-linkage clustering at a tight distance first (or into ``speakers`` clusters when the
    count is fixed); then, without a fixed count, the two clusters whose centroids are nearest
    merge while they are closer than ``SAME_SPEAKER_DISTANCE`` or one of them has under
    ``MIN_SPEAKER_S`` of speech. Centroids average out the noise of single windows, which
    average linkage alone mistakes for a second speaker. At most ``MAX_CLUSTERED`` evenly spaced
    windows are clustered; every window then takes its nearest centroid's speaker.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(embeddings) < 2:
        return [0] * len(embeddings)
    chosen = np.unique(np.linspace(0, len(embeddings) - 1, MAX_CLUSTERED).astype(int))
    tree = linkage(embeddings[chosen], method="average", metric="cosine")
    if speakers:
        first = fcluster(tree, t=speakers, criterion="maxclust")
    else:
        first = fcluster(tree, t=FINE_DISTANCE, criterion="distance")
    groups = [list(chosen[first == label]) for label in np.unique(first)]
    if not speakers:  # talk time scaled up by the windows left out of the clustering
        scale = len(embeddings) / len(chosen)
        groups = _merge_near(embeddings, groups, [seconds * scale for seconds in seconds_each])
    centroids = np.stack([_centroid(embeddings[group]) for group in groups])
    return [int(i) for i in np.argmax(embeddings @ centroids.T, axis=1)]


def _merge_near(
    embeddings: Samples, groups: list[list[int]], seconds_each: Sequence[float]
) -> list[list[int]]:
    """Merge the nearest pair of groups (by centroid) while it is one speaker or a fragment."""
    while len(groups) > 1:
        centroids = np.stack([_centroid(embeddings[group]) for group in groups])
        distance = 1.0 - centroids @ centroids.T
        np.fill_diagonal(distance, np.inf)
        talk = [sum(seconds_each[i] for i in group) for group in groups]
        smallest = int(np.argmin(talk))
        if talk[smallest] < MIN_SPEAKER_S:
            a, b = smallest, int(np.argmin(distance[smallest]))
        else:
            a, b = (int(i) for i in np.unravel_index(int(np.argmin(distance)), distance.shape))
            if distance[a, b] >= SAME_SPEAKER_DISTANCE:
                return groups
        groups[a] = groups[a] + groups[b]
        del groups[b]
    return groups


def _centroid(members: Samples) -> Samples:
    mean = members.mean(axis=0)
    return np.asarray(mean / np.linalg.norm(mean), dtype=np.float32)


def _smooth(labels: list[int]) -> list[int]:
    """A single window between two windows of the same other speaker takes theirs."""
    smoothed = list(labels)
    for i in range(1, len(labels) - 1):
        if labels[i - 1] == labels[i + 1] != labels[i]:
            smoothed[i] = labels[i - 1]
    return smoothed


def turns_of(speech: Sequence[Span], found: Sequence[Window], labels: Sequence[int]) -> list[Turn]:
    """Turns from labelled windows: each window owns the time nearest its centre within its
    stretch of speech; a stretch without a window takes the nearest window's speaker."""
    centres = np.array([(a + b) / 2 for a, b in found])
    turns: list[Turn] = []
    for span in speech:
        inside = [
            i for i, (a, b) in enumerate(found) if a >= span.start - 1e-6 and b <= span.end + 1e-6
        ]
        if not inside:
            nearest = int(np.argmin(np.abs(centres - (span.start + span.end) / 2)))
            turns.append(Turn(start=span.start, end=span.end, speaker=str(labels[nearest])))
            continue
        edges = (
            [span.start]
            + [float((centres[a] + centres[b]) / 2) for a, b in itertools.pairwise(inside)]
            + [span.end]
        )
        for k, index in enumerate(inside):
            turns.append(Turn(start=edges[k], end=edges[k + 1], speaker=str(labels[index])))
    return _merged(turns)


def _merged(turns: list[Turn]) -> list[Turn]:
    """Adjacent turns of one speaker as one."""
    merged: list[Turn] = []
    for turn in turns:
        last = merged[-1] if merged else None
        if last and last.speaker == turn.speaker and turn.start - last.end < 1e-6:
            merged[-1] = last.model_copy(update={"end": turn.end})
        else:
            merged.append(turn)
    return merged


def _mel(audio: Any, samples: Samples, window: Window) -> Samples:
    """The encoder's input for one window: its samples at the training level, zero-padded to
    1.6 s, as 160 mel frames."""
    width = int(WINDOW_S * RATE)
    start, end = window
    piece = samples[int(start * RATE) : int(end * RATE)].astype(np.float32)
    piece = audio.normalize_volume(piece, LEVEL_DBFS, increase_only=True)
    padded = np.zeros(width, dtype=np.float32)
    padded[: min(width, len(piece))] = piece[:width]
    return np.asarray(audio.wav_to_mel_spectrogram(padded)[:160], dtype=np.float32)


class ResemblyzerDiarizer(Diarizer):
    """Voice embeddings over the speech, clustered: CPU, no downloads."""

    name = "resemblyzer"

    def __init__(self) -> None:
        self._encoder: Any = None

    def _loaded(self) -> Any:
        """The speaker encoder on CPU (loaded once)."""
        if self._encoder is None:
            _, encoder, _ = _import_encoder()
            self._encoder = encoder("cpu", verbose=False)
        return self._encoder

    def embed(self, samples: Samples, found: Sequence[Window]) -> Samples:
        """One L2-normed voice embedding per window of 16 kHz mono ``samples``, ``BATCH``
        windows at a time."""
        torch, _, audio = _import_encoder()
        encoder = self._loaded()
        embedded = []
        with torch.no_grad():
            for first in range(0, len(found), BATCH):
                mels = [_mel(audio, samples, window) for window in found[first : first + BATCH]]
                embedded.append(encoder(torch.from_numpy(np.stack(mels))).cpu().numpy())
        return np.asarray(np.concatenate(embedded), dtype=np.float32)

    def diarize(
        self, audio: Path, speech: Sequence[Span], speakers: int | None = None
    ) -> tuple[Turn, ...]:
        """Who speaks when within ``speech``, from voice embeddings of 1.6 s windows."""
        speech = [span for span in speech if span.duration > 0]
        if not speech:
            return ()
        found = windows(speech)
        if not found:
            return tuple(Turn(start=s.start, end=s.end, speaker="S1") for s in speech)
        with tempfile.TemporaryDirectory() as scratch:
            wav = media.resample_audio(audio, Path(scratch) / "16k.wav", rate=RATE, channels=1)
            samples, _ = read_audio(wav, mono=True)
        embeddings = self.embed(samples, found)
        labels = _smooth(cluster(embeddings, speakers, owned_seconds(found)))
        return by_first_appearance(turns_of(speech, found, labels))
