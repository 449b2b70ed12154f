"""Catalog manifests: rows parsed with one `file:line: reason` per bad row, and the pure tick
decision (what to register, ingest and request, capped per tick), then applied to a real local
storage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from localization_core.catalog import VideoRecord, load_record, record_for_upload
from localization_core.manifest import (
    CatalogPlan,
    ManifestRow,
    Pair,
    RecordIndex,
    apply_plan,
    find_sources,
    parse_manifest,
    plan_tick,
    read_manifests,
    version_of,
)
from localization_core.storage.local import LocalStorage

VIDEOS = [f"v{i}" for i in range(1, 6)]
DONE: set[Pair] = {("v1", "es"), ("v2", "fr"), ("v4", "es")}


def row(video: str, *targets: str, source: str | None = None, line: int = 2) -> ManifestRow:
    return ManifestRow(
        manifest="manifests/spring.csv",
        line=line,
        video_id=video,
        source=source or f"library/{video}.mp4",
        targets=targets,
    )


def catalog_rows() -> list[ManifestRow]:
    return [row(video, "es", "fr", line=n) for n, video in enumerate(VIDEOS, start=2)]


def versions(rows: Iterable[ManifestRow]) -> dict[str, str]:
    return {r.source: f"md5-of-{r.source}" for r in rows}


def after(records: Mapping[str, VideoRecord], plan: CatalogPlan) -> dict[str, VideoRecord]:
    """The catalog once ``plan`` is applied (what apply_plan writes), without storage."""
    new = dict(records)
    for item in plan.ingest:
        content = {"upload_key": item.source, "etag": item.version, "content_md5": item.version}
        old = new.get(item.video_id)
        new[item.video_id] = (
            old.model_copy(update=content)
            if old
            else VideoRecord(video_id=item.video_id, filename=Path(item.source).name, **content)
        )
    for video, target in plan.pairs:
        new[video] = new[video].model_copy(update={"targets": (*new[video].targets, target)})
    return new


def test_five_videos_two_languages_three_done_mark_seven_pairs_then_four_three_zero() -> None:
    rows = catalog_rows()
    plan = plan_tick(rows, versions(rows), {}, DONE, cap=50)
    assert len(plan.pairs) == 7
    assert set(plan.pairs).isdisjoint(DONE)
    assert plan.registered == tuple(VIDEOS), "video-level: five registered and ingested"
    assert len(plan.ingest) == 5

    records: dict[str, VideoRecord] = {}
    marked: list[int] = []
    for _ in range(3):
        plan = plan_tick(rows, versions(rows), records, DONE, cap=4)
        marked.append(len(plan.pairs))
        records = after(records, plan)
    assert marked == [4, 3, 0]
    every = {(video, lang) for video in VIDEOS for lang in ("es", "fr")}
    assert {(v, t) for v, r in records.items() for t in r.targets} == every - DONE


def test_the_cap_also_paces_new_videos_and_says_what_is_left() -> None:
    rows = catalog_rows()
    plan = plan_tick(rows, versions(rows), {}, DONE, cap=4)
    assert [item.video_id for item in plan.ingest] == ["v1", "v2", "v3", "v4"]
    assert (plan.deferred_videos, plan.deferred_pairs) == (1, 3)
    assert ("v5", "es") not in plan.pairs, "no pair of a video without a record yet"


def test_a_registered_video_is_not_reingested_until_its_source_changes() -> None:
    rows = [row("v1", "es")]
    records = after({}, plan_tick(rows, versions(rows), {}, set(), cap=10))
    same = plan_tick(rows, versions(rows), records, set(), cap=10)
    assert same == CatalogPlan(), "nothing to do at the same version"
    changed = plan_tick(rows, {"library/v1.mp4": "md5-new"}, records, set(), cap=10)
    assert [(i.video_id, i.version, i.new) for i in changed.ingest] == [("v1", "md5-new", False)]
    assert not changed.pairs, "its pair is already requested"


def test_rows_of_one_video_merge_and_a_contradicting_or_missing_source_is_skipped() -> None:
    rows = [
        row("v1", "es", line=2),
        row("v1", "fr", "es", line=3),
        row("v1", "de", source="library/other.mp4", line=4),
        row("v2", "es", source="library/gone.mp4", line=5),
    ]
    found = {"library/v1.mp4": "a", "library/other.mp4": "b"}
    plan = plan_tick(rows, found, {}, set(), cap=10)
    assert plan.pairs == (("v1", "es"), ("v1", "fr"))
    assert plan.skipped == (
        "manifests/spring.csv:4: v1 is listed at manifests/spring.csv:2 with source "
        "'library/v1.mp4'; row skipped",
        "manifests/spring.csv:5: source 'library/gone.mp4' is not in storage; row skipped",
    )


def test_choices_are_planned_only_where_the_record_differs() -> None:
    chosen = ManifestRow("manifests/a.csv", 2, "v1", "library/v1.mp4", ("es",), "required", "FAST")
    plan = plan_tick([chosen], {"library/v1.mp4": "a"}, {}, set(), cap=10)
    assert plan.choices == (("v1", {"review_policy": "required", "preset": "FAST"}),)
    record = after({}, plan)["v1"].model_copy(update={"review_policy": "required"})
    again = plan_tick([chosen], {"library/v1.mp4": "a"}, {"v1": record}, set(), cap=10)
    assert again.choices == (("v1", {"preset": "FAST"}),)


CSV = b"""\xef\xbb\xbfVideo_ID,source,targets,review_policy,preset
talk-1,library/talk-1.mp4,es fr,required,fast
# a comment row
talk-2,library/talk-2.mp4,"ES,pt-BR",,

Bad Id,library/x.mp4,es,,
talk-3,uploads/talk-3.mp4,es,,
talk-4,../etc/passwd,es,,
talk-5,library/talk-5.mp4,english,,
talk-6,library/talk-6.mp4,es,sometimes,
talk-7,library/talk-7.mp4,es,,SLOW
talk-8,library/talk-8.mp4,es,,,extra
,library/talk-9.mp4,es,,
talk-10,,es,,
"""


def test_csv_rows_parse_and_each_bad_row_is_one_line_with_file_and_line() -> None:
    rows, problems = parse_manifest("manifests/spring.csv", CSV)
    assert [(r.video_id, r.line, r.targets) for r in rows] == [
        ("talk-1", 2, ("es", "fr")),
        ("talk-2", 4, ("es", "pt-br")),
    ]
    assert (rows[0].review_policy, rows[0].preset, rows[1].preset) == ("required", "FAST", None)
    where = [p.split(": ", 1)[0] for p in problems]
    assert where == [f"manifests/spring.csv:{n}" for n in range(6, 15)]
    assert all(p.endswith("; row skipped") and "\n" not in p for p in problems)
    assert "under uploads/" in problems[1] and "rejected" in problems[2]
    assert "'english' is not a language code" in problems[3]
    assert "6 cells, the header has 5" in problems[6]


def test_jsonl_rows_and_files_that_cannot_be_read() -> None:
    data = b"\n".join(
        [
            b'{"video_id": "a", "source": "library/a.mp4", "targets": ["es", "fr"]}',
            b"",
            b'{"video_id": "b", "source": "library/b.mp4", "targets": "de", "lang": "x"}',
            b"[1, 2]",
            b"{oops",
        ]
    )
    rows, problems = parse_manifest("manifests/more.jsonl", data)
    assert [(r.video_id, r.targets) for r in rows] == [("a", ("es", "fr"))]
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"manifests/more.jsonl:{n}" for n in (3, 4, 5)
    ]
    assert "unknown column(s) ['lang']" in problems[0]
    no_header = parse_manifest("manifests/x.csv", b"id,file\nv1,library/v1.mp4\n")
    assert no_header == ([], ["manifests/x.csv:1: the header has no video_id, source, targets "
                              "column (it needs video_id, source, targets); nothing in the file "
                              "is read"])  # fmt: skip
    assert parse_manifest("manifests/x.csv", b"\xff\xfe\x00") == (
        [],
        ["manifests/x.csv:1: not UTF-8 text; nothing in it is read"],
    )
    rows, problems = parse_manifest(
        "manifests/x.csv", b'video_id,source,targets\nv1,library/v1.mp4,es\n"v2,library\n'
    )
    assert [r.video_id for r in rows] == ["v1"], "the rows before a broken quote are read"
    assert problems == [
        "manifests/x.csv:3: not CSV (unexpected end of data); the rest of the file is skipped"
    ]


@pytest.fixture()
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def test_manifests_and_sources_are_found_by_listing(storage: LocalStorage) -> None:
    storage.write_bytes("manifests/a.csv", b"video_id,source,targets\nv1,library/v1.mp4,es\n")
    storage.write_bytes("manifests/b/c.jsonl", b'{"video_id":"v2","source":"top.mp4","targets":[]}')
    storage.write_bytes("manifests/notes.txt", b"hello")
    rows, problems = read_manifests(storage, page_size=1)
    assert [(r.manifest, r.video_id) for r in rows] == [
        ("manifests/a.csv", "v1"),
        ("manifests/b/c.jsonl", "v2"),
    ]
    assert problems == ["manifests/notes.txt: not a manifest (.csv or .jsonl); ignored"]
    for key in ("library/v1.mp4", "library/deep/v3.mp4", "library/unlisted.mp4", "top.mp4"):
        storage.write_bytes(key, key.encode())
    wanted = ["library/v1.mp4", "library/deep/v3.mp4", "top.mp4", "absent.mp4", "gone/x.mp4"]
    found = find_sources(storage, wanted, page_size=1)
    assert sorted(found) == ["library/deep/v3.mp4", "library/v1.mp4", "top.mp4"]
    assert version_of(found["top.mp4"]) == storage.info("top.mp4").content_md5


def test_apply_registers_chooses_and_requests_and_reports_broken_records(
    storage: LocalStorage,
) -> None:
    for video in ("v1", "v2", "v3"):
        storage.write_bytes(f"library/{video}.mp4", f"clip {video}".encode())
    storage.write_bytes("catalog/v3.json", b"{not json")
    storage.write_bytes("catalog/README.txt", b"not a record")
    rows = [
        ManifestRow("manifests/a.csv", 2, "v1", "library/v1.mp4", ("es", "fr"), "required", "FAST"),
        ManifestRow("manifests/a.csv", 3, "v2", "library/v2.mp4", ("de",)),
        ManifestRow("manifests/a.csv", 4, "v3", "library/v3.mp4", ("es",)),
    ]
    index = RecordIndex()
    sources = find_sources(storage, [r.source for r in rows])
    found = {key: version_of(info) for key, info in sources.items()}
    plan = plan_tick(rows, found, index.load(storage), set(), cap=10)
    applied = apply_plan(storage, plan, sources)
    assert [i.video_id for i in applied.ingested] == ["v1", "v2"]
    assert applied.pairs == (("v1", "es"), ("v1", "fr"), ("v2", "de"))
    assert applied.problems == (
        "catalog record of v3 not updated (ValidationError); retried next tick",
    )
    v1 = load_record(storage, "v1")
    assert (v1.upload_key, v1.targets, v1.review_policy, v1.preset) == (
        "library/v1.mp4", ("es", "fr"), "required", "FAST",
    )  # fmt: skip
    assert set(index.load(storage)) == {"v1", "v2"}, "re-read after the writes, broken skipped"
    again = plan_tick(rows[:2], found, index.load(storage), set(), cap=10)
    assert again == CatalogPlan()
    removed_meanwhile = CatalogPlan(choices=(("gone", {"preset": "FAST"}),))
    assert apply_plan(storage, removed_meanwhile, sources).problems == (
        "catalog record of gone not updated (video 'gone' is not registered); retried next tick",
    )


def test_an_older_manifest_source_does_not_replace_a_newer_upload(storage: LocalStorage) -> None:
    storage.write_bytes("library/talk.mp4", b"the first cut")
    newer = storage.write_bytes("uploads/2030-01-01/talk.mp4", b"the final cut")
    record_for_upload(storage, newer, video_id="talk")
    rows = [row("talk", "es")]
    sources = find_sources(storage, ["library/talk.mp4"])
    found = {key: version_of(info) for key, info in sources.items()}
    plan = plan_tick(rows, found, RecordIndex().load(storage), set(), cap=10)
    applied = apply_plan(storage, plan, sources)
    assert not applied.ingested
    assert applied.problems == (
        "manifests/spring.csv: talk keeps its newer upload 'uploads/2030-01-01/talk.mp4' "
        "(the manifest's 'library/talk.mp4' is older); not re-ingested",
    )
    assert load_record(storage, "talk").targets == ("es",), "its languages are still requested"
