"""A cheap language check: is a translation written in the target language's script?

Telling Spanish from Italian needs a model; telling Russian from English needs only the Unicode
names of the letters. A reply whose letters are mostly of another script than the target's (a
copy of the source, an English answer to a Japanese request) is invalid; names and glossary
terms in Latin letters inside a Cyrillic line are fine.
"""

from __future__ import annotations

import unicodedata

SCRIPTS: dict[str, tuple[str, ...]] = {
    "ru": ("CYRILLIC",),
    "uk": ("CYRILLIC",),
    "el": ("GREEK",),
    "ar": ("ARABIC",),
    "hi": ("DEVANAGARI",),
    "ja": ("HIRAGANA", "KATAKANA", "CJK"),
    "zh": ("CJK",),
    "ko": ("HANGUL",),
}
LATIN = ("LATIN",)
NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish", "nb": "Norwegian",
    "fi": "Finnish", "pl": "Polish", "cs": "Czech", "ro": "Romanian", "hu": "Hungarian",
    "tr": "Turkish", "id": "Indonesian", "vi": "Vietnamese", "ru": "Russian", "uk": "Ukrainian",
    "el": "Greek", "ar": "Arabic", "hi": "Hindi", "ja": "Japanese", "zh": "Chinese",
    "ko": "Korean",
}  # fmt: skip
MIN_SHARE = 0.5
FOREIGN_TO_LATIN = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


def expected_scripts(language: str) -> tuple[str, ...]:
    """The Unicode script names (prefixes) the letters of ``language`` use."""
    return SCRIPTS.get(language.lower().split("-")[0], LATIN)


def script_share(text: str, language: str) -> float:
    """The share of the letters of ``text`` written in ``language``'s script (1.0 without
    letters: digits and punctuation say nothing)."""
    scripts = expected_scripts(language)
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    inside = sum(unicodedata.name(ch, "").startswith(scripts) for ch in letters)
    return inside / len(letters)


def written_in(text: str, language: str) -> bool:
    """True when most letters of ``text`` are in ``language``'s script, and a language written
    in Latin letters holds no ideograph, kana or hangul at all (a small model's slip)."""
    if script_share(text, language) < MIN_SHARE:
        return False
    if expected_scripts(language) != LATIN:
        return True
    return not any(unicodedata.name(ch, "").startswith(FOREIGN_TO_LATIN) for ch in text)


def language_name(code: str) -> str:
    """The English name of a language code, for a prompt (``Spanish (es)``)."""
    base = code.lower().split("-")[0]
    return f"{NAMES[base]} ({code})" if base in NAMES else code
