"""The suite carries its own media: nothing reads from beside the clone, every clip is sourced."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import MEDIA, REPO

TESTS = REPO / "tests"
SOURCES = MEDIA / "SOURCES.md"
# spelled in pieces so this file does not match its own search
OUTSIDE = re.compile(r"\.\./" + "shared|" + "shared" + r"/media")


def _test_files() -> list[Path]:
    return [p for p in TESTS.rglob("*") if p.is_file() and p.suffix in {".py", ".md", ".cfg"}]


def test_no_test_reads_media_from_beside_the_clone() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in _test_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_media_file_is_listed_with_origin_and_licence() -> None:
    text = SOURCES.read_text()
    rows = {
        cells[0]: cells
        for line in text.splitlines()
        if line.startswith("| ")
        and len(cells := [c.strip() for c in line.strip("|").split("|")]) == 5
    }
    files = sorted(p.name for p in MEDIA.iterdir() if p.name != SOURCES.name)
    licences = [name for name in files if name.startswith("LICENSE-")]
    clips = [name for name in files if name not in licences]
    assert sorted(rows.keys() & set(clips)) == clips, "a clip without a SOURCES.md row"
    for name in clips:
        _, origin, licence, _, _ = rows[name]
        assert re.fullmatch(r"[\w.-]+/[\w.-]+ : \S+", origin), (name, origin)
        assert "Apache-2.0" in licence or "MIT" in licence, (name, licence)
    for licence in licences:
        assert f"]({licence})" in text, f"{licence} is not linked from SOURCES.md"
    assert "Apache-2.0" in "".join(licences) and "MIT" in "".join(licences)


def test_every_clip_is_used_by_a_test() -> None:
    code = "\n".join(p.read_text() for p in TESTS.rglob("*.py"))
    clips = [p.name for p in MEDIA.iterdir() if p.suffix in {".mp4", ".wav", ".flac", ".mp3"}]
    assert clips
    assert [name for name in clips if f'"{name}"' not in code] == [], "keep tests/media small"
