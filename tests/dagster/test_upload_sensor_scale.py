"""The upload sensor at catalog scale, in Azurite: with 2,000 objects under uploads/, a tick
with no new upload lists a bounded number of pages, queries the instance at most once and
takes well under 5 s; a new upload then starts exactly one run. Names it cannot use and files
that are no media are logged once, with the reason, and never fail a tick; the languages come
from the blob's ``targets`` metadata, else from UPLOAD_TARGETS.

Pages are counted on the storage backend the sensor uses (its ``list_page``), instance queries
on every public method of the instance and of its run, event-log and schedule storages (the
outermost call only; each is at least one database query).

Registering 2,000 uploads in Azurite takes about 45 s on two cores (seven storage calls each),
so the 2,000-object test starts from the state the sensor reaches once such a burst is
registered (every object remembered in the cursor: its largest); a burst of 120 is registered
for real, at most ``per_tick`` a tick and each exactly once, in its own test."""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from localization_core.catalog import load_record
from localization_core.settings import Settings
from localization_dagster.resources import PipelineResource, StorageResource
from localization_dagster.sensors.uploads import (
    UploadCursor,
    build_upload_sensor,
    digest,
    evaluate_uploads,
    modified,
)

PAGE_SIZE = 500
OBJECTS = 2000
FLAT = 100
HOT_FOLDERS = 3  # yesterday, today, tomorrow
MAX_PAGES = HOT_FOLDERS + 1  # each hot folder fits a page, plus one sweep page
MAX_SECONDS = 5.0


@dataclass
class Calls:
    """What a tick cost: list pages, instance (storage) queries by name, warnings logged."""

    pages: int = 0
    queries: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    depth: int = 0

    def reset(self) -> None:
        self.pages = 0
        self.queries.clear()
        self.warnings.clear()


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@dataclass
class Rig:
    """The sensor, its resources and instance, the counters, and the container behind them."""

    container: ContainerClient
    storage: StorageResource
    instance: dg.DagsterInstance
    calls: Calls
    sensor: dg.SensorDefinition
    cursor: str | None = None

    def tick(self) -> tuple[dg.SensorResult, float]:
        """One evaluation with the last cursor; the result and its seconds."""
        pipeline = PipelineResource(
            min_duration_s=1.0,
            max_duration_s=60.0,
            max_upload_bytes=10**9,
            loudness_target_lufs=-16.0,
            upload_targets=["fr"],
        )
        with dg.build_sensor_context(
            instance=self.instance,
            resources={"storage": self.storage, "pipeline": pipeline},
            cursor=self.cursor,
        ) as context:
            self.calls.reset()
            context.log.addHandler(_Collect(self.calls.warnings))
            started = time.perf_counter()
            result = self.sensor(context)
            took = time.perf_counter() - started
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        return result, took

    def queries(self) -> int:
        """Instance queries of the last tick."""
        return sum(self.calls.queries.values())


def _counting(calls: Calls, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Count the outermost call only: what the sensor asks, not the storage's own helpers."""

    def counted(*args: Any, **kwargs: Any) -> Any:
        if not calls.depth:
            calls.queries[name] += 1
        calls.depth += 1
        try:
            return method(*args, **kwargs)
        finally:
            calls.depth -= 1

    return counted


def _count_queries(
    monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance, calls: Calls
) -> None:
    """Count every public method call on the instance and on its storages."""
    targets = {
        "instance": instance,
        "runs": instance.run_storage,
        "events": instance.event_log_storage,
        "schedules": instance.schedule_storage,
    }
    for label, target in targets.items():
        for name, _ in inspect.getmembers(type(target), inspect.isfunction):
            if not name.startswith("_"):
                bound = getattr(target, name)
                monkeypatch.setattr(target, name, _counting(calls, f"{label}.{name}", bound))


def _rig(
    project: Settings, azurite: str, monkeypatch: pytest.MonkeyPatch, **sensor: int
) -> Iterator[Rig]:
    from localization_dagster.runner import open_instance

    name = f"uploads{uuid.uuid4().hex[:12]}"
    container = BlobServiceClient.from_connection_string(azurite).get_container_client(name)
    container.create_container()
    storage = StorageResource(
        storage_type="azure_blob",
        local_root=str(project.data_dir / "storage"),
        scratch_dir=str(project.data_dir / "scratch"),
        azure_container=name,
        azure_connection_string=azurite,
    )
    calls = Calls()
    backend = storage.backend()  # the one object the sensor gets (kept per process)
    list_page = backend.list_page

    def counted_page(*args: Any, **kwargs: Any) -> Any:
        calls.pages += 1
        return list_page(*args, **kwargs)

    monkeypatch.setattr(backend, "list_page", counted_page)
    instance = open_instance(project)
    _count_queries(monkeypatch, instance, calls)
    try:
        yield Rig(container, storage, instance, calls, build_upload_sensor(30, **sensor))
    finally:
        container.delete_container()


@pytest.fixture()
def rig(project: Settings, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    yield from _rig(project, azurite, monkeypatch, page_size=PAGE_SIZE)


@pytest.fixture()
def small_rig(project: Settings, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    yield from _rig(project, azurite, monkeypatch, page_size=40, per_tick=30)


def _keys(count: int, flat: int) -> list[str]:
    """``count`` keys: ``flat`` in the flat layout, the rest in the folders of 38 past days."""
    first = date(2024, 3, 1)
    dated = [
        f"uploads/{(first + timedelta(days=i % 38)).isoformat()}/clip-{i:05d}.mp4"
        for i in range(count - flat)
    ]
    return [*dated, *(f"uploads/flat-{i:04d}.mov" for i in range(flat))]


def _create(container: ContainerClient, keys: list[str]) -> None:
    """Small objects, 16 uploads at a time (Azurite's speed bounds this, not the sensor)."""

    def put(key: str) -> None:
        container.upload_blob(key, key.encode())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, keys))


def _today_key(name: str) -> str:
    return f"uploads/{datetime.now(UTC).date().isoformat()}/{name}"


def _drained_burst(rig: Rig) -> str:
    """The cursor the sensor holds right after registering every object now stored: a pass
    that began now is complete, and each object (modified within the clock slack of it) is
    remembered as handled. Listed here, before anything is counted."""
    now = time.time()
    stored = list(rig.storage.backend().list("uploads/", page_size=5000))
    handled = {digest(info): modified(info, now) for info in stored}
    return UploadCursor(previous=now, handled=handled).model_dump_json()


def test_a_quiet_tick_over_2000_uploads_is_bounded_and_a_new_one_starts_once(rig: Rig) -> None:
    _create(rig.container, _keys(OBJECTS, FLAT))
    rig.cursor = _drained_burst(rig)
    cursor_bytes = len(rig.cursor)

    # quiet ticks over a whole sweep pass (2,000 / 500 = 4 pages, and one more)
    worst_pages, worst_queries, worst_s = 0, 0, 0.0
    for _ in range(OBJECTS // PAGE_SIZE + 1):
        result, took = rig.tick()
        assert not result.run_requests and not result.dynamic_partitions_requests
        worst_pages = max(worst_pages, rig.calls.pages)
        worst_queries = max(worst_queries, rig.queries())
        worst_s = max(worst_s, took)
    assert worst_pages <= MAX_PAGES, worst_pages
    assert worst_queries <= 1, rig.calls.queries
    assert worst_s < MAX_SECONDS, f"a quiet tick took {worst_s:.2f} s"

    # one new upload: exactly one run, on the next tick, and never again
    rig.container.upload_blob(_today_key("Keynote 2025.mp4"), b"new")
    result, took = rig.tick()
    started = [(r.partition_key, r.tags["localize/trigger"]) for r in result.run_requests or []]
    assert started == [("keynote-2025", "upload")]
    assert rig.calls.pages <= MAX_PAGES and rig.queries() <= 1
    new_tick = (rig.calls.pages, rig.queries(), took)
    for _ in range(OBJECTS // PAGE_SIZE + 1):
        result, _ = rig.tick()
        assert not result.run_requests, "the new upload starts once"
    print(
        f"\n{OBJECTS} uploads, page {PAGE_SIZE}: quiet tick <= {worst_pages} pages, "
        f"<= {worst_queries} instance queries, <= {worst_s:.2f} s (cursor {cursor_bytes} "
        f"bytes); new-upload tick {new_tick[0]} pages, {new_tick[1]} queries, {new_tick[2]:.2f} s"
    )


def test_a_burst_is_registered_over_ticks_once_each_and_then_forgotten(small_rig: Rig) -> None:
    """120 uploads, 40 a page, at most 30 registered a tick: every one starts exactly once,
    flat and dated alike; an hour on, two passes later, the cursor remembers none of them."""
    rig = small_rig
    keys = [*_keys(110, 10), *(_today_key(f"today-{i}.mp4") for i in range(10))]
    _create(rig.container, keys)
    started: Counter[str] = Counter()
    ticks = 0
    while ticks < 12:
        result, _ = rig.tick()
        requests = result.run_requests or []
        assert len(requests) <= 30 and rig.queries() <= 1
        started.update(str(request.partition_key) for request in requests)
        ticks += 1
        if not requests:
            break
    assert ticks < 12, "the burst never drains"
    assert len(started) == len(keys) and set(started.values()) == {1}
    assert load_record(rig.storage.backend(), "flat-0003").targets == ("fr",)

    # new metadata on a registered upload (a new etag, the same content): its languages grow;
    # the one instance query asks whether that content was ingested (it was not: it repeats
    # its run key, which Dagster drops once the first run exists)
    blob = rig.container.get_blob_client(_today_key("today-0.mp4"))
    blob.set_blob_metadata({"targets": "de"})
    result, _ = rig.tick()
    assert [r.partition_key for r in result.run_requests or []] == ["today-0"]
    assert rig.calls.queries == {"events.get_latest_tags_by_partition": 1}
    assert load_record(rig.storage.backend(), "today-0").targets == ("fr", "de")
    keys.append("metadata")

    later = time.time() + 3600
    cursor = UploadCursor.model_validate_json(rig.cursor or "{}")
    assert len(cursor.handled) == len(keys), "each version of each object"
    backend = rig.storage.backend()
    for _ in range(2 * (len(keys) // 40 + 1)):
        tick = evaluate_uploads(rig.instance, backend, cursor, now=later, page_size=40)
        assert not tick.run_requests and not tick.problems
        cursor = tick.cursor
    assert cursor.handled == {}, "older than the previous pass: forgotten"
    print(f"\n{len(keys)} uploads registered in {ticks} ticks")


def test_unusable_names_and_files_are_logged_once_and_metadata_chooses_languages(
    rig: Rig,
) -> None:
    bad = {
        "uploads/2025-13-45/bad-day.mp4": "not uploads/<file> or uploads/YYYY-MM-DD/<file>",
        "uploads/team/deep.mp4": "not uploads/<file> or uploads/YYYY-MM-DD/<file>",
        "uploads/2025-01-01/a/deeper.mp4": "not uploads/<file> or uploads/YYYY-MM-DD/<file>",
        "uploads/___.mp4": "cannot make a video id from this name",
        _today_key("notes.txt"): ".txt: not a video or audio file",
        _today_key("wrong.mp4"): "metadata targets='es,klingon!'",
        _today_key("broken.mp4"): "catalog/broken.json is unreadable; fix or delete it",
    }
    rig.container.upload_blob("catalog/broken.json", b"{not json")
    for key in bad:
        metadata = {"targets": "es,klingon!"} if key.endswith("wrong.mp4") else None
        rig.container.upload_blob(key, b"x", metadata=metadata)
    rig.container.upload_blob(_today_key("talk.mp4"), b"talk", metadata={"targets": "es, DE"})
    rig.container.upload_blob(_today_key("plain.mp4"), b"plain")
    rig.container.upload_blob(_today_key(""), b"")  # a folder marker: no upload, no problem

    result, _ = rig.tick()
    assert sorted(str(r.partition_key) for r in result.run_requests or []) == ["plain", "talk"]
    added = {
        request.partitions_def_name: list(request.partition_keys)
        for request in result.dynamic_partitions_requests or []
    }
    assert added == {"videos": ["plain", "talk"], "languages": ["de", "es", "fr"]}
    storage = rig.storage.backend()
    assert load_record(storage, "talk").targets == ("es", "de"), "the blob's metadata"
    assert load_record(storage, "plain").targets == ("fr",), "UPLOAD_TARGETS"
    for key, reason in bad.items():
        said = [line for line in rig.calls.warnings if f"{key}: skipped" in line]
        assert len(said) == 1 and reason in said[0], (key, rig.calls.warnings)

    again, _ = rig.tick()
    assert not again.run_requests
    assert rig.calls.warnings == [], "said once"

    rig.cursor = "not the upload sensor's cursor"
    rig.tick()
    assert "cursor is unreadable; starting a new pass" in rig.calls.warnings[0]
