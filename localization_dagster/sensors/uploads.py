"""The upload sensor: a file dropped under ``uploads/`` registers its video and requests its
``source_video`` run (run key = video id + content version), once, at any catalog size.

Layout: ``uploads/YYYY-MM-DD/<file>`` (the UTC day of the upload; what ``localize add`` writes)
or the flat ``uploads/<file>`` of earlier versions. The file name is the video id (``My
Talk.mp4`` -> ``my-talk``). Anything else under ``uploads/`` (deeper folders, a folder that is no
date, a name with no letter or digit, a file that is not video or audio, unreadable ``targets``
metadata) is skipped with one logged line, once per version of the object.

Blob listings come in name order with no "modified since" filter (and Azurite has no change
feed), so each tick lists, ``LIST_PAGE_SIZE`` objects a page:
- the hot scan: the folders of yesterday, today and tomorrow (an uploader's local date may be
  either), in full: a dated upload starts on the next tick;
- the sweep: ONE page of all of ``uploads/``, resumed from the continuation token kept in the
  cursor, starting over after the last page: flat uploads, older folders and re-uploads into
  them are found within one pass (``ceil(uploads / LIST_PAGE_SIZE)`` ticks).

An object is a candidate when it was modified at or after ``since`` (the start of the sweep's
previous pass, less ``CLOCK_SLACK_S`` for the storage's clock and listings racing writes) and its
(key, etag) is not among those the cursor remembers handling since then. Every object modified
before ``since`` was listed by a whole pass that began after it was written, so the cursor only
holds what changed lately. At most ``per_tick`` candidates are registered per tick (a burst is
spread over ticks; the sweep stays on a page until all of it is handled).

Instance: no query on a tick without candidates, and at most one otherwise: the latest data
version of ``source_video`` for candidates whose video was already registered (``localize
add``), so what ``localize run`` ingested in-process is not ingested again. New content needs no
query: its run key is new, and Dagster drops a repeated run key of this sensor.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field, ValidationError

from localization_core.catalog import (
    VideoRecord,
    check_language,
    record_for_upload,
    record_key,
    save_record,
    slugify,
)
from localization_core.domain import Frozen
from localization_core.errors import InvalidInputError, LocalizationError
from localization_core.storage import ObjectInfo, StorageBackend
from localization_dagster.partitions import add_requests
from localization_dagster.resources import PipelineResource, StorageResource
from localization_dagster.versions import source_data_version

SOURCE_VIDEO = dg.AssetKey("source_video")
DATA_VERSION_TAG = "dagster/data_version"
UPLOADS = "uploads/"
TARGETS_METADATA = "targets"
CLOCK_SLACK_S = 300.0  # the storage's clock against this host's, and listings racing writes
UPLOADS_PER_TICK = 200  # ~7 storage calls each: a tick stays well inside Dagster's 60 s
WORKERS = 8  # threads registering uploads (each waits on storage round trips)
MEDIA_SUFFIXES = frozenset(
    {
        # video
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg",
        ".mts", ".m2ts", ".ts", ".3gp", ".mxf",
        # audio
        ".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".oga", ".opus", ".wma",
    }
)  # fmt: skip
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class UploadCursor(Frozen):
    """What the sensor keeps between ticks (Dagster's cursor, as JSON)."""

    token: str | None = Field(None, description="the sweep's next page; None: the first")
    started: float | None = Field(None, description="when the sweep's pass began (epoch s)")
    previous: float | None = Field(None, description="when the previous pass began")
    handled: dict[str, int] = Field(
        default_factory=dict,
        description="digest of (key, etag) -> modified (epoch s), for objects handled at or "
        "after since",
    )

    @property
    def since(self) -> float | None:
        """Objects modified before this were handled; None until a first pass is complete."""
        return None if self.previous is None else self.previous - CLOCK_SLACK_S


@dataclass(frozen=True)
class Registered:
    """An upload the catalog now knows, and whether it is new content."""

    record: VideoRecord
    new: bool


@dataclass(frozen=True)
class UploadTick:
    """What one tick decided: runs to request, partitions to add, problems, the next cursor."""

    run_requests: list[dg.RunRequest]
    video_ids: list[str]
    languages: list[str]
    problems: list[str]
    waiting: int
    cursor: UploadCursor


def upload_file_name(key: str) -> str:
    """The file name of an upload key in one of the two layouts, or one clear error."""
    parts = key.removeprefix(UPLOADS).split("/")
    if len(parts) == 1 or (len(parts) == 2 and _is_day(parts[0])):
        return parts[-1]
    raise InvalidInputError("not uploads/<file> or uploads/YYYY-MM-DD/<file>")


def _is_day(folder: str) -> bool:
    if not _DAY.fullmatch(folder):
        return False
    try:
        date.fromisoformat(folder)
    except ValueError:
        return False
    return True


def metadata_targets(info: ObjectInfo) -> list[str]:
    """The languages the object's ``targets`` metadata asks for ("es,de"); [] without it."""
    given = info.metadata_value(TARGETS_METADATA) or ""
    try:
        return [check_language(code) for code in given.split(",") if code.strip()]
    except InvalidInputError as exc:
        raise InvalidInputError(f"metadata {TARGETS_METADATA}={given!r}: {exc}") from exc


def register_upload(
    storage: StorageBackend, info: ObjectInfo, defaults: Sequence[str]
) -> Registered:
    """Register one upload and request its languages: those of its metadata, else the
    defaults when the video has none yet. ``InvalidInputError`` says why it is skipped."""
    name = upload_file_name(info.key)
    suffix = Path(name).suffix.lower()
    if suffix not in MEDIA_SUFFIXES:
        raise InvalidInputError(f"{suffix or 'no extension'}: not a video or audio file")
    wanted = metadata_targets(info)
    record, new = record_for_upload(storage, info)
    if not wanted and not record.targets:
        wanted = list(defaults)
    merged = tuple(dict.fromkeys([*record.targets, *wanted]))
    if merged != record.targets:  # the record just read or written: no second read
        record = save_record(storage, record.model_copy(update={"targets": merged}))
    return Registered(record, new)


def _handle(storage: StorageBackend, info: ObjectInfo, defaults: Sequence[str]) -> Registered | str:
    """The registration, or the logged line saying why the object is skipped (an unreadable
    catalog record included: one object must never fail every tick)."""
    try:
        return register_upload(storage, info, defaults)
    except LocalizationError as exc:
        return f"{info.key}: skipped: {exc}"
    except ValidationError:
        record = record_key(_video_guess(info.key))
        return f"{info.key}: skipped: {record} is unreadable; fix or delete it, then upload again"


def handle_uploads(
    storage: StorageBackend, infos: Sequence[ObjectInfo], defaults: Sequence[str]
) -> list[Registered | str]:
    """Register ``infos`` on a few threads (storage calls wait on the network); the objects
    of one video id go in order on one thread, so two copies never race on its record."""
    groups: dict[str, list[ObjectInfo]] = {}
    for info in infos:
        groups.setdefault(_video_guess(info.key), []).append(info)

    def run(group: list[ObjectInfo]) -> list[Registered | str]:
        return [_handle(storage, info, defaults) for info in group]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return [result for results in pool.map(run, groups.values()) for result in results]


def _video_guess(key: str) -> str:
    try:
        return slugify(Path(key).name)
    except InvalidInputError:
        return key


def ingested_versions(instance: dg.DagsterInstance, video_ids: Iterable[str]) -> dict[str, str]:
    """The data version of each video's latest ``source_video`` materialization: ONE query for
    all of them (none for no ids)."""
    wanted = sorted(set(video_ids))
    if not wanted:
        return {}
    latest = instance.event_log_storage.get_latest_tags_by_partition(
        SOURCE_VIDEO,
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        [DATA_VERSION_TAG],
        asset_partitions=wanted,
    )
    return {video: tags[DATA_VERSION_TAG] for video, tags in latest.items() if tags}


def run_requests(
    instance: dg.DagsterInstance, registered: Sequence[Registered]
) -> list[dg.RunRequest]:
    """One ``source_video`` request per (video, version) not ingested yet."""
    known = ingested_versions(instance, (r.record.video_id for r in registered if not r.new))
    requests: dict[str, dg.RunRequest] = {}
    for item in registered:
        record = item.record
        if not item.new and known.get(record.video_id) == source_data_version(record):
            continue
        run_key = f"{record.video_id}:{record.version}"
        requests[run_key] = dg.RunRequest(
            run_key=run_key,
            partition_key=record.video_id,
            asset_selection=[SOURCE_VIDEO],
            tags={"localize/trigger": "upload"},
        )
    return list(requests.values())


def window_prefixes(now: float) -> list[str]:
    """The folders the hot scan lists in full: yesterday, today and tomorrow (UTC)."""
    today = datetime.fromtimestamp(now, UTC).date()
    return [f"{UPLOADS}{(today + timedelta(days=days)).isoformat()}/" for days in (-1, 0, 1)]


def digest(info: ObjectInfo) -> str:
    """A short name for one version of one object (the cursor keeps thousands of them)."""
    return hashlib.blake2b(f"{info.key}\0{info.etag}".encode(), digest_size=8).hexdigest()


def modified(info: ObjectInfo, now: float) -> int:
    """When the object was last written (epoch s); now when the backend does not say."""
    return int(info.last_modified.timestamp()) if info.last_modified else int(now)


def candidates(infos: Iterable[ObjectInfo], cursor: UploadCursor, now: float) -> list[ObjectInfo]:
    """The objects changed since the cursor's ``since`` that it has not handled yet."""
    since = cursor.since
    return [
        info
        for info in infos
        if not info.key.endswith("/")  # a folder marker (hierarchical namespace), no upload
        and (since is None or modified(info, now) >= since)
        and digest(info) not in cursor.handled
    ]


def next_cursor(
    cursor: UploadCursor,
    *,
    now: float,
    next_token: str | None,
    held: bool,
    handled: Iterable[ObjectInfo],
) -> UploadCursor:
    """The cursor after a tick: the sweep moves on (or stays on a page not fully handled, or
    starts over after its last page), and what is older than the new ``since`` is forgotten."""
    started: float | None = cursor.started if cursor.started is not None else now
    if held:
        token, previous = cursor.token, cursor.previous
    elif next_token:
        token, previous = next_token, cursor.previous
    else:  # the pass is complete: the next tick begins another
        token, previous, started = None, started, None
    moved = UploadCursor(token=token, started=started, previous=previous)
    since = moved.since
    remembered = {**cursor.handled, **{digest(info): modified(info, now) for info in handled}}
    kept = {key: at for key, at in remembered.items() if since is None or at >= since}
    return moved.model_copy(update={"handled": kept})


def evaluate_uploads(
    instance: dg.DagsterInstance,
    storage: StorageBackend,
    cursor: UploadCursor,
    *,
    now: float,
    page_size: int,
    per_tick: int = UPLOADS_PER_TICK,
    defaults: Sequence[str] = (),
) -> UploadTick:
    """One tick: list the hot folders and one sweep page, register at most ``per_tick``
    candidates (the hot ones first, oldest first) and decide their runs."""
    hot = [info for prefix in window_prefixes(now) for info in storage.list(prefix, page_size)]
    page = storage.list_page(UPLOADS, page_size=page_size, token=cursor.token)
    hot_keys = {info.key for info in hot}
    fresh_hot = sorted(candidates(hot, cursor, now), key=lambda i: (modified(i, now), i.key))
    fresh_sweep = candidates((i for i in page.items if i.key not in hot_keys), cursor, now)
    fresh = [*fresh_hot, *fresh_sweep]
    chosen = fresh[:per_tick]
    chosen_keys = {info.key for info in chosen}
    # the sweep stays on its page while a candidate on it waits, hot or not: a pass must not
    # end (and ``since`` pass an object) before every candidate it listed is handled
    held = any(info.key not in chosen_keys for info in candidates(page.items, cursor, now))
    results = handle_uploads(storage, chosen, defaults)
    registered = [result for result in results if isinstance(result, Registered)]
    requests = run_requests(instance, registered)
    return UploadTick(
        run_requests=requests,
        video_ids=sorted({str(request.partition_key) for request in requests}),
        languages=sorted({code for item in registered for code in item.record.targets}),
        problems=[result for result in results if isinstance(result, str)],
        waiting=len(fresh) - len(chosen),
        cursor=next_cursor(
            cursor,
            now=now,
            next_token=page.next_token,
            held=held,
            handled=chosen,
        ),
    )


def read_cursor(text: str | None) -> tuple[UploadCursor, str | None]:
    """The cursor, or a fresh one and why (an unreadable cursor starts a new pass: handling
    is idempotent, so this only costs time)."""
    if not text:
        return UploadCursor(), None
    try:
        return UploadCursor.model_validate_json(text), None
    except ValidationError:
        return UploadCursor(), "the upload sensor's cursor is unreadable; starting a new pass"


def build_upload_sensor(
    interval_s: int, page_size: int = 500, per_tick: int = UPLOADS_PER_TICK
) -> dg.SensorDefinition:
    """The sensor, polling storage every ``interval_s`` seconds (RUNNING by default), listing
    ``page_size`` objects a page and registering at most ``per_tick`` uploads a tick."""

    @dg.sensor(
        name="uploads_sensor",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=[SOURCE_VIDEO],
        description=(
            "Registers each new or re-uploaded file under uploads/YYYY-MM-DD/ (or uploads/) in "
            "storage and starts its source_video once per content version; names it cannot "
            "use are logged once, not retried."
        ),
    )
    def uploads_sensor(
        context: dg.SensorEvaluationContext, storage: StorageResource, pipeline: PipelineResource
    ) -> dg.SensorResult:
        cursor, unreadable = read_cursor(context.cursor)
        if unreadable:
            context.log.warning(unreadable)
        tick = evaluate_uploads(
            context.instance,
            storage.backend(),
            cursor,
            now=time.time(),
            page_size=page_size,
            per_tick=per_tick,
            defaults=pipeline.upload_targets,
        )
        for problem in tick.problems:
            context.log.warning(problem)
        if tick.waiting:
            context.log.info(f"{tick.waiting} more uploads wait for the next ticks")
        return dg.SensorResult(
            run_requests=tick.run_requests,
            dynamic_partitions_requests=add_requests(tick.video_ids, tick.languages),
            cursor=tick.cursor.model_dump_json(),
        )

    return uploads_sensor
