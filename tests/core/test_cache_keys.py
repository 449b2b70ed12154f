"""Segment cache keys: every input matters, and only inputs local to the window do."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localization_core.cache import AUDIO_MARGIN_S, engine_key, segment_key
from localization_core.domain import Span

RATE = 1000  # a coarse rate keeps the generated audio small; the rule does not depend on it
EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def keyed_windows(draw: st.DrawFn) -> dict[str, Any]:
    duration = draw(st.integers(4, 60))
    start = draw(st.integers(0, (duration - 2) * 100)) / 100
    end = min(duration, start + draw(st.integers(64, 1000)) / 100)
    seed = draw(st.integers(0, 2**32 - 1))
    audio = np.random.default_rng(seed).uniform(-0.5, 0.5, duration * RATE).astype(np.float32)
    spans = [Span(start=max(0.0, start - 0.5), end=min(duration, start + 0.8))]
    return {
        "source_id": draw(st.text(min_size=1, max_size=8)),
        "window": Span(start=start, end=end),
        "dub_audio": audio,
        "rate": RATE,
        "sync_spans": spans,
        "engine": draw(st.sampled_from(["musetalk", "latentsync"])),
        "tuning": draw(st.sampled_from(["steps=25;guidance=2.0", "fp16"])),
        "duration": duration,
    }


def key(case: dict[str, Any]) -> str:
    return segment_key(**{k: v for k, v in case.items() if k != "duration"})


@EXAMPLES
@given(keyed_windows(), st.sampled_from(
    ["source_id", "window", "audio", "sync_spans", "engine", "tuning"]))  # fmt: skip
def test_changing_any_key_input_changes_the_key(case: dict[str, Any], which: str) -> None:
    changed = dict(case)
    window: Span = case["window"]
    if which == "window":
        changed["window"] = Span(start=window.start, end=window.end + 0.04)
    elif which == "audio":
        audio = case["dub_audio"].copy()
        audio[int((window.start + window.duration / 2) * RATE)] += 0.25
        changed["dub_audio"] = audio
    elif which == "sync_spans":
        changed["sync_spans"] = [*case["sync_spans"], Span(start=window.start, end=window.end)]
    else:
        changed[which] = case[which] + "x"
    assert key(changed) != key(case)


@EXAMPLES
@given(keyed_windows(), st.data())
def test_a_change_outside_the_window_leaves_its_key_unchanged(
    case: dict[str, Any], data: st.DataObject
) -> None:
    window: Span = case["window"]
    audio = case["dub_audio"].copy()
    outside = [
        i for i in (int((window.start - AUDIO_MARGIN_S) * RATE) - 2,
                    int((window.end + AUDIO_MARGIN_S) * RATE) + 2)
        if 0 <= i < len(audio)
    ]  # fmt: skip
    for index in outside:
        audio[index] = data.draw(st.floats(-1, 1))
    far = [Span(start=window.end + 0.2, end=window.end + 0.9)] if window.end + 1 < 60 else []
    stretched = [Span(start=max(0.0, s.start - 0.3), end=s.end) for s in case["sync_spans"]]
    edited = {**case, "dub_audio": audio, "sync_spans": stretched + far}
    if stretched[0].start >= window.start:  # the edit must stay outside the window
        edited["sync_spans"] = case["sync_spans"] + far
    assert key(edited) == key(case)


def test_the_stored_key_adds_the_installed_engine_s_version_and_weights() -> None:
    """Known only where the engine runs: new weights or a new version, new segments."""
    base = engine_key("window", engine_version="1.5", checkpoint_hash="aa11")
    assert engine_key("window", engine_version="1.6", checkpoint_hash="aa11") != base
    assert engine_key("window", engine_version="1.5", checkpoint_hash="bb22") != base
    assert engine_key("other", engine_version="1.5", checkpoint_hash="aa11") != base
    assert engine_key("window", engine_version="1.5", checkpoint_hash="aa11") == base
