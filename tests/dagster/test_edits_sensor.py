"""The edits sensor, evaluated with its resources: a review file or an approval dropped under
edits/<video>/<lang>/ re-runs the gate of that pair once; a refused file changes nothing and
moves to edits-rejected/ with its reason."""

from __future__ import annotations

import json

import dagster as dg

from localization_core.artifacts import SourceVideo
from localization_core.domain import MediaProbe, TranslatedLine, Translation
from localization_core.review import (
    export_review,
    load_review,
    load_transcript_review,
    translation_digest,
)
from localization_core.settings import Settings, get_settings
from localization_dagster.resources import build_resources
from localization_dagster.sensors.edits import build_edits_sensor

MACHINE = Translation(
    source_language="fr",
    target_language="en",
    lines=(
        TranslatedLine(id=1, start=0.5, end=2.0, source_text="Bonjour.", text="Hello."),
        TranslatedLine(id=2, start=2.5, end=4.0, source_text="Ça va ?", text="How are you?"),
    ),
)


def _store(backend: object, key: str, value: object) -> None:
    envelope = {"type": type(value).__name__, "data": value.model_dump(mode="json")}  # type: ignore[attr-defined]
    backend.write_bytes(key, json.dumps(envelope).encode())  # type: ignore[attr-defined]


def test_dropped_edits_and_approvals_rerun_the_gate_and_bad_files_are_set_aside(
    project: Settings,
) -> None:
    from localization_dagster.runner import open_instance

    storage = build_resources(get_settings())["storage"]
    backend = storage.backend()
    source = SourceVideo(
        video_id="talk", key="uploads/talk.mp4", filename="talk.mp4", version="v1",
        probe=MediaProbe(duration=5.0, has_video=True, video_duration=5.0),
    )  # fmt: skip
    _store(backend, "artifacts/source_video/talk.json", source)
    _store(backend, "artifacts/translation/talk/en.json", MACHINE)
    review = project.data_dir / "review.csv"
    export_review(MACHINE, review)
    edited = review.read_text().replace("How are you?", "And you?").encode()
    backend.write_bytes("edits/talk/en/review.csv", edited)
    backend.write_bytes("edits/talk/en/late.csv", edited.replace(b"4.000", b"6.000"))
    backend.write_bytes("edits/talk/en/approve", b"ana\n")
    backend.write_bytes("edits/notes.txt", b"hello")
    sensor = build_edits_sensor(30)
    with dg.build_sensor_context(
        instance=open_instance(project), resources={"storage": storage}
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    requests = result.run_requests or []
    assert [r.partition_key for r in requests] == ["en|talk", "en|talk"]
    assert all(r.asset_selection == [dg.AssetKey("translation_review")] for r in requests)
    assert all(r.run_config == {} for r in requests)
    state = load_review(backend, "talk", "en")
    assert state.approved == translation_digest(MACHINE) and state.approved_by == "ana"
    assert [edit.text for edit in state.edits] == ["And you?"]
    assert list(backend.list("edits/")) == [], "every dropped file left edits/"
    rejected = [info.key for info in backend.list("edits-rejected/")]
    reasons = [key for key in rejected if key.startswith("edits-rejected/talk/en/late.csv.")]
    reason = backend.read_bytes(next(key for key in reasons if key.endswith(".txt"))).decode()
    assert reason.startswith("late.csv: line 2: 2.500-6.000 s is outside the video"), reason
    assert any(key.startswith("edits-rejected/notes.txt.") for key in rejected)


def test_a_transcript_approval_reruns_the_translation_of_every_requested_language(
    project: Settings,
) -> None:
    from localization_core.catalog import VideoRecord, save_record
    from localization_core.domain import DubLine, Transcript
    from localization_dagster.runner import open_instance

    storage = build_resources(get_settings())["storage"]
    backend = storage.backend()
    record = VideoRecord(
        video_id="talk", upload_key="uploads/talk.mp4", filename="talk.mp4", etag="e",
        targets=("en", "fr", "de"),
    )  # fmt: skip
    save_record(backend, record)
    transcript = Transcript(
        language="fr", language_probability=0.9,
        lines=(DubLine(id=1, start=0.5, end=2.0, text="Bonjour."),),
    )  # fmt: skip
    _store(backend, "artifacts/transcript/talk.json", transcript)
    backend.write_bytes("edits/talk/transcript/approve", b"ana")
    with dg.build_sensor_context(
        instance=open_instance(project), resources={"storage": storage}
    ) as context:
        result = build_edits_sensor(30)(context)
    assert isinstance(result, dg.SensorResult)
    requests = result.run_requests or []
    assert sorted(r.partition_key or "" for r in requests) == ["de|talk", "en|talk"], "not fr"
    assert all(r.run_config == {} for r in requests)
    assert load_transcript_review(backend, "talk").approved_by == "ana", "kept in storage"
    assert all(r.asset_selection == [dg.AssetKey("translation")] for r in requests)
