"""Glossary files: parsed with one clear line for a malformed file, narrowed to the target
language with the video's rows winning, matched on whole words in any case."""

from __future__ import annotations

from pathlib import Path

import pytest

from localization_core.errors import InvalidInputError
from localization_core.glossary import load_glossary, merge, parse_glossary, set_glossary
from localization_core.storage.local import LocalStorage

CATALOG = "source,target,language\nbird house,casa de pájaros,es\nPine,pino,es\nPine,Kiefer,de\n"
VIDEO = "source,target,language\nbird house,pajarera,es\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the first row must be source,target,language"),
        ("term,translation\nx,y\n", "the first row must be source,target,language"),
        ("source,target,language\nbird house,,es\n", "row 2 needs a source, a target and a"),
        ("source,target,language\na,b,es,extra\n", "row 2 needs a source, a target and a"),
    ],
)
def test_a_malformed_glossary_is_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_glossary(text, "terms.csv")


def test_the_video_s_rows_win_and_only_the_target_language_counts(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    (tmp_path / "catalog.csv").write_text(CATALOG)
    (tmp_path / "video.csv").write_text(VIDEO)
    assert set_glossary(storage, None, tmp_path / "catalog.csv") == 3
    assert set_glossary(storage, "workshop", tmp_path / "video.csv") == 1
    spanish = load_glossary(storage, "workshop", "es")
    assert {(t.source, t.target) for t in spanish.terms} == {
        ("bird house", "pajarera"),
        ("Pine", "pino"),
    }
    assert [t.target for t in load_glossary(storage, "other", "de").terms] == ["Kiefer"]
    assert load_glossary(storage, "workshop", "fr").terms == ()
    assert spanish.digest() != load_glossary(storage, "other", "es").digest()


def test_terms_match_whole_words_in_any_case() -> None:
    glossary = merge("es", parse_glossary(CATALOG))
    assert [t.source for t in glossary.terms_in("A PINE bird house.")] == ["bird house", "Pine"]
    assert glossary.terms_in("Pineapple houses") == ()
    missed = glossary.missed("Bird house of pine", "Una casa de pájaros de roble")
    assert [t.target for t in missed] == ["pino"]


def test_a_missing_glossary_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no glossary file at"):
        set_glossary(LocalStorage(tmp_path), "v", tmp_path / "nope.csv")
