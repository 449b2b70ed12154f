"""The transcript gate through `localize`: a video that asks for a transcript review is not
translated until the transcript is approved, and a reviewer's correction is what it translates."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import dagster as dg
import pytest

from tests.kill_harness import localize

pytestmark = pytest.mark.slow


def test_translation_waits_for_the_transcript_and_uses_the_reviewers_version(
    tmp_path: Path, french_face_clip: Path
) -> None:
    data = tmp_path / "data"
    added = localize(data, "add", str(french_face_clip), "--to", "en", "--from", "fr",
                     "--review-transcript")  # fmt: skip
    assert added.returncode == 0, added.stderr
    held = localize(data, "run", "french-face", "--to", "en")
    assert held.returncode == 0, held.stdout + held.stderr
    assert "french-face awaits transcript review" in held.stdout
    instance = dg.DagsterInstance.from_config(str(data / "dagster"))
    assert not instance.fetch_materializations(dg.AssetKey("translation"), limit=1).records
    gate = dg.AssetCheckKey(dg.AssetKey("translation"), "transcript_approved")
    record = instance.get_latest_asset_check_evaluation_record(gate)
    assert record is not None and record.evaluation is not None
    assert not record.evaluation.passed and record.partition == "en|french-face"
    status = localize(data, "status", "french-face")
    assert "transcript: localize approve french-face --transcript" in status.stdout

    path = tmp_path / "transcript.csv"
    exported = localize(data, "edit", "french-face", "--transcript", "--export", str(path))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0] == ["id", "start", "end", "speaker", "text"]
    first = rows[1]
    first[2] = f"{float(first[2]) - 0.3:.3f}"  # the reviewer ends the first line 0.3 s sooner
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    edited = localize(data, "edit", "french-face", "--transcript", str(path))
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "awaits transcript review" in edited.stdout, "an edit is not an approval"

    approved = localize(data, "approve", "french-face", "--transcript", "--by", "ana")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "output:" in approved.stdout
    translation = json.loads((data / "storage/artifacts/translation/french-face/en.json")
                             .read_text())["data"]  # fmt: skip
    assert translation["lines"][0]["end"] == pytest.approx(float(first[2]), abs=1e-3)
    review = json.loads((data / "storage/videos/french-face/transcript-review.json").read_text())
    assert review["approved_by"] == "ana" and len(review["edits"]) == 1
