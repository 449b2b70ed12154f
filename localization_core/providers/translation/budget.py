"""Duration budgets: how many characters of a language fit in a slot when spoken naturally.

A translator that knows the slot can choose a wording that fits before the dub has to speed it
up (DESIGN section 4, isochrony). The rates are characters (spaces included) per second of
conversational speech: the syllable rates measured by Pellegrino, Coupé & Marsico, "A
cross-language perspective on speech information rate", Language 87(3), 2011 (English 6.2,
French 7.2, German 6.0, Italian 7.0, Japanese 7.8, Mandarin 5.2, Spanish 7.8 syllables/s) times
the mean characters per syllable of each written form, rounded; languages outside that study
take the rate of the closest one in writing system and rhythm. They are budgets, not
predictions: the dub still fits each line to its slot afterwards.
"""

from __future__ import annotations

import math

# characters per second of natural speech, by ISO 639-1 code
CHARS_PER_SECOND: dict[str, float] = {
    "en": 15.0,
    "es": 17.0,
    "fr": 16.0,
    "de": 15.0,
    "it": 16.0,
    "pt": 16.0,
    "nl": 15.0,
    "sv": 15.0,
    "da": 15.0,
    "nb": 15.0,
    "fi": 15.0,
    "pl": 15.0,
    "cs": 15.0,
    "ro": 16.0,
    "hu": 15.0,
    "tr": 15.0,
    "id": 16.0,
    "vi": 12.0,
    "ru": 15.0,
    "uk": 15.0,
    "el": 15.0,
    "ar": 13.0,
    "hi": 14.0,
    "ja": 8.0,
    "zh": 5.0,
    "ko": 7.0,
}
DEFAULT_CHARS_PER_SECOND = 15.0
MIN_BUDGET_CHARS = 4


def chars_per_second(language: str) -> float:
    """The speaking rate of ``language`` in characters per second (a regional code falls back
    to its language; an unknown one to an average Latin-script rate)."""
    return CHARS_PER_SECOND.get(language.lower().split("-")[0], DEFAULT_CHARS_PER_SECOND)


def char_budget(seconds: float, language: str) -> int:
    """Characters of ``language`` that ``seconds`` of natural speech hold (at least a word)."""
    return max(MIN_BUDGET_CHARS, math.floor(seconds * chars_per_second(language)))
