"""Glossaries: terms a translation must render one fixed way (names, products, jargon).

A glossary is a small CSV file with the header ``source,target,language``: one row per term and
target language. A catalog-wide file and a per-video file may both exist; the video's rows win
for the same source term. The translator passes the terms a line contains to the model and
checks that the translation carries each one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from pathlib import Path

from localization_core.domain import Frozen
from localization_core.errors import InvalidInputError, ObjectNotFoundError
from localization_core.storage.base import StorageBackend

HEADER = ("source", "target", "language")


class Term(Frozen):
    """One glossary row: ``source`` is always rendered as ``target`` in ``language``."""

    source: str
    target: str
    language: str


class Glossary(Frozen):
    """The terms of one localization (already narrowed to its target language)."""

    terms: tuple[Term, ...] = ()

    def digest(self) -> str:
        """sha256 of the terms: part of every translation cache key."""
        rows = sorted((term.source, term.target, term.language) for term in self.terms)
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    def terms_in(self, text: str) -> tuple[Term, ...]:
        """The terms whose source wording appears in ``text`` (whole words, any case)."""
        return tuple(term for term in self.terms if _contains(text, term.source))

    def missed(self, source_text: str, translated: str) -> tuple[Term, ...]:
        """Terms of ``source_text`` whose target wording ``translated`` does not carry."""
        return tuple(
            term for term in self.terms_in(source_text) if not _contains(translated, term.target)
        )


def _contains(text: str, phrase: str) -> bool:
    pattern = r"(?<!\w)" + re.escape(phrase.strip()) + r"(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def parse_glossary(text: str, name: str = "glossary") -> tuple[Term, ...]:
    """The rows of a glossary CSV; one clear line for a malformed file."""
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip().lower() for cell in rows[0]) != HEADER:
        raise InvalidInputError(f"{name}: the first row must be {','.join(HEADER)}")
    terms = []
    for number, row in enumerate(rows[1:], start=2):
        cells = [cell.strip() for cell in row]
        if len(cells) != len(HEADER) or not all(cells):
            raise InvalidInputError(f"{name}: row {number} needs a source, a target and a language")
        terms.append(Term(source=cells[0], target=cells[1], language=cells[2].lower()))
    return tuple(terms)


def read_glossary(path: Path) -> tuple[Term, ...]:
    """The rows of the glossary file at ``path``."""
    if not path.is_file():
        raise InvalidInputError(f"no glossary file at {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path.name}: not UTF-8 text") from exc
    return parse_glossary(text, path.name)


def merge(language: str, *layers: Iterable[Term]) -> Glossary:
    """One glossary for ``language`` from layers in rising priority (catalog, then video)."""
    chosen: dict[str, Term] = {}
    for layer in layers:
        for term in layer:
            if term.language == language.lower():
                chosen[term.source.lower()] = term
    return Glossary(terms=tuple(sorted(chosen.values(), key=lambda t: t.source.lower())))


CATALOG_KEY = "glossaries/catalog.csv"


def glossary_key(video_id: str) -> str:
    """Where one video's own glossary is stored."""
    return f"glossaries/{video_id}.csv"


def load_glossary(storage: StorageBackend, video_id: str, language: str) -> Glossary:
    """The catalog's and the video's glossaries for ``language`` (the video's rows win)."""
    layers = []
    for key in (CATALOG_KEY, glossary_key(video_id)):
        try:
            text = storage.read_bytes(key).decode("utf-8-sig")
        except ObjectNotFoundError:
            continue
        layers.append(parse_glossary(text, key))
    return merge(language, *layers)


def set_glossary(storage: StorageBackend, video_id: str | None, path: Path) -> int:
    """Store the glossary at ``path`` for one video (or, with None, the whole catalog) after
    checking it; returns its number of terms. Its next translation uses it."""
    terms = read_glossary(path)
    storage.write_bytes(glossary_key(video_id) if video_id else CATALOG_KEY, path.read_bytes())
    return len(terms)
