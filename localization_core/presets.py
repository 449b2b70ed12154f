"""Lip-sync presets (DESIGN section 4): what a user picks, resolved against the deploy-time
engine into one tuning. FAST and BALANCED are MuseTalk 1.5 tunings, HIGH_QUALITY and ULTRA
LatentSync 1.5 tunings; the CPU ``preview`` engine has a tuning of its own for each. A preset
naming another engine than the configured one is refused, so a request never silently runs
with a tuning nobody chose."""

from __future__ import annotations

import json
from typing import Literal, get_args

from localization_core.domain import Frozen
from localization_core.errors import InvalidInputError

Preset = Literal["FAST", "BALANCED", "HIGH_QUALITY", "ULTRA"]
PRESETS: tuple[str, ...] = get_args(Preset)
LATENTSYNC_MAX_WINDOW_S = 30.0
MUSETALK_MAX_WINDOW_S = 120.0


class Tuning(Frozen):
    """One engine's settings for a preset; ``signature`` goes into every segment cache key."""

    preset: str
    engine: str
    max_window_s: float
    steps: int | None = None  # LatentSync inference steps
    guidance: float | None = None  # LatentSync guidance scale
    fp16: bool | None = None  # MuseTalk --use_float16
    extra_margin: int | None = None  # MuseTalk: pixels added below the face box (jaw room)
    parsing_mode: str | None = None  # MuseTalk: "jaw" blends the jaw region, "raw" the box
    amplitude: float | None = None  # preview: mouth opening at full speech, share of the box
    smoothing: int | None = None  # preview: envelope smoothing, in frames

    @property
    def signature(self) -> str:
        """Every field that changes the engine's frames; the preset's name does not."""
        fields = self.model_dump(exclude={"preset"}, exclude_none=True)
        return json.dumps(fields, sort_keys=True)


_MUSETALK = {
    "FAST": Tuning(preset="FAST", engine="musetalk", max_window_s=MUSETALK_MAX_WINDOW_S, fp16=True),
    "BALANCED": Tuning(
        preset="BALANCED",
        engine="musetalk",
        max_window_s=MUSETALK_MAX_WINDOW_S,
        fp16=False,
        extra_margin=15,
        parsing_mode="jaw",
    ),
}
_LATENTSYNC = {
    "HIGH_QUALITY": Tuning(
        preset="HIGH_QUALITY",
        engine="latentsync",
        max_window_s=LATENTSYNC_MAX_WINDOW_S,
        steps=25,
        guidance=2.0,
    ),
    "ULTRA": Tuning(
        preset="ULTRA",
        engine="latentsync",
        max_window_s=LATENTSYNC_MAX_WINDOW_S,
        steps=30,
        guidance=2.0,
    ),
}
# preview windows follow the engine each preset names, so a CPU plan matches the GPU plan
_PREVIEW = {
    "FAST": Tuning(
        preset="FAST", engine="preview", max_window_s=MUSETALK_MAX_WINDOW_S,
        amplitude=0.22, smoothing=1,
    ),
    "BALANCED": Tuning(
        preset="BALANCED", engine="preview", max_window_s=MUSETALK_MAX_WINDOW_S,
        amplitude=0.26, smoothing=2,
    ),
    "HIGH_QUALITY": Tuning(
        preset="HIGH_QUALITY", engine="preview", max_window_s=LATENTSYNC_MAX_WINDOW_S,
        amplitude=0.3, smoothing=3,
    ),
    "ULTRA": Tuning(
        preset="ULTRA", engine="preview", max_window_s=LATENTSYNC_MAX_WINDOW_S,
        amplitude=0.3, smoothing=4,
    ),
}  # fmt: skip
TUNINGS: dict[str, dict[str, Tuning]] = {
    "musetalk": _MUSETALK,
    "latentsync": _LATENTSYNC,
    "preview": _PREVIEW,
}
DEFAULTS = {"musetalk": "FAST", "latentsync": "HIGH_QUALITY", "preview": "BALANCED"}


def engines_for(preset: str) -> list[str]:
    """The engines that have a tuning named ``preset``."""
    return [engine for engine, tunings in TUNINGS.items() if preset in tunings]


def resolve(preset: str | None, engine: str, max_window_s: float) -> Tuning:
    """The tuning of ``preset`` (the engine's default when None) for the configured ``engine``.

    An engine without presets (``dub_only``) takes no preset: its frames never change.
    """
    if preset is not None and preset not in PRESETS:
        raise InvalidInputError(f"preset {preset!r}: not one of {', '.join(PRESETS)}")
    tunings = TUNINGS.get(engine)
    if tunings is None:
        if preset is not None:
            raise InvalidInputError(
                f"preset {preset} needs LIPSYNC_PROVIDER={' or '.join(engines_for(preset))}; "
                f"the configured engine {engine} changes no frame and takes no preset"
            )
        return Tuning(preset="none", engine=engine, max_window_s=max_window_s)
    chosen = preset or DEFAULTS[engine]
    if chosen not in tunings:
        raise InvalidInputError(
            f"preset {chosen} is a {' or '.join(engines_for(chosen))} tuning; the configured "
            f"engine is {engine} (presets: {', '.join(tunings)}); set LIPSYNC_PROVIDER "
            "or pick one of those"
        )
    return tunings[chosen]
