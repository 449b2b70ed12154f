"""Catalog manifests: the videos an operator wants localized, listed in storage, turned into
what one sensor tick registers and requests (DESIGN section 6).

A manifest is a file under ``manifests/`` in storage (never under ``catalog/``, where each
object is one video's record): ``.csv`` with a header row, or ``.jsonl`` with one JSON object a
line. Columns: ``video_id``, ``source`` (the storage key of the source file, outside
``uploads/``), ``targets`` (language codes separated by spaces, commas, ``;`` or ``|``; a JSON
list too), and optional ``review_policy`` (``auto``/``required``) and ``preset`` (``FAST``,
``BALANCED``, ``HIGH_QUALITY``, ``ULTRA``); a blank optional cell keeps the video's choice.

``plan_tick`` is the whole decision, pure: from the manifest rows, the source versions in
storage, the catalog records and the localized pairs, it says which videos to register, which
to (re)ingest (new, or whose source changed), which (video, language) pairs to add to their
record's ``targets``, and which choices to write; at most ``cap`` ingests and ``cap`` pairs. A
malformed row is skipped with one ``file:line: reason`` line, never an exception.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast, get_args

from pydantic import ValidationError

from localization_core.catalog import (
    ReviewPolicy,
    VideoRecord,
    check_language,
    check_video_id,
    record_for_upload,
    request_targets,
    update_record,
)
from localization_core.errors import LocalizationError, ObjectNotFoundError
from localization_core.presets import PRESETS
from localization_core.storage.base import ObjectInfo, StorageBackend, validate_key

MANIFESTS = "manifests/"
SUFFIXES = (".csv", ".jsonl")
REQUIRED = ("video_id", "source", "targets")
COLUMNS = (*REQUIRED, "review_policy", "preset")
UPLOADS = "uploads/"  # the upload sensor's: a manifest source there would register twice
_SEPARATORS = re.compile(r"[\s,;|]+")

Pair = tuple[str, str]


class RowError(LocalizationError):
    """One manifest row cannot be used; the message is the reason, on one line."""


@dataclass(frozen=True)
class ManifestRow:
    """One valid manifest row: a video, where its source is, and what it should become."""

    manifest: str
    line: int
    video_id: str
    source: str
    targets: tuple[str, ...] = ()
    review_policy: ReviewPolicy | None = None
    preset: str | None = None

    @property
    def where(self) -> str:
        """``file:line``, for log lines about this row."""
        return f"{self.manifest}:{self.line}"

    def choices(self) -> dict[str, str]:
        """The record fields this row sets (a blank cell sets nothing)."""
        wanted = {"review_policy": self.review_policy, "preset": self.preset}
        return {name: value for name, value in wanted.items() if value is not None}


@dataclass(frozen=True)
class Ingest:
    """A video to (re)register at ``version`` of ``source`` and whose source_video to run."""

    video_id: str
    source: str
    version: str
    manifest: str
    new: bool


@dataclass(frozen=True)
class CatalogPlan:
    """What one tick does: ingests (new videos included), choices, pairs, skipped rows."""

    ingest: tuple[Ingest, ...] = ()
    choices: tuple[tuple[str, Mapping[str, str]], ...] = ()
    pairs: tuple[Pair, ...] = ()
    skipped: tuple[str, ...] = ()
    deferred_videos: int = 0
    deferred_pairs: int = 0

    @property
    def registered(self) -> tuple[str, ...]:
        """The videos that have no catalog record yet."""
        return tuple(item.video_id for item in self.ingest if item.new)


# ---------------------------------------------------------------- parsing


def _cell(value: object) -> str:
    """A cell as stripped text (JSON null and a missing cell: empty)."""
    return "" if value is None else str(value).strip()


def _targets(value: object) -> tuple[str, ...]:
    """Language codes from ``"es fr"``, ``"es,fr"`` or ``["es", "fr"]``, normalized, once each."""
    items = value if isinstance(value, list) else _SEPARATORS.split(_cell(value))
    return tuple(dict.fromkeys(check_language(str(code)) for code in items if _cell(code)))


def _source(value: object) -> str:
    """A storage key outside ``uploads/`` (one clear error otherwise)."""
    key = _cell(value)
    if not key:
        raise RowError("no source (the storage key of the source file)")
    validate_key(key)
    if key.startswith(UPLOADS):
        raise RowError(
            f"source {key!r} is under uploads/ (the upload sensor's); use another folder"
        )
    return key


def _review_policy(value: object) -> ReviewPolicy | None:
    """``auto``, ``required`` or blank."""
    policy = _cell(value).lower()
    if not policy:
        return None
    if policy not in get_args(ReviewPolicy):
        raise RowError(f"review_policy {policy!r} is not auto or required")
    return cast(ReviewPolicy, policy)


def _preset(value: object) -> str | None:
    """One of the lip-sync presets, or blank."""
    preset = _cell(value).upper()
    if preset and preset not in PRESETS:
        raise RowError(f"preset {preset!r} is not one of {', '.join(PRESETS)}")
    return preset or None


def parse_row(manifest: str, line: int, cells: Mapping[str, object]) -> ManifestRow:
    """A valid row from its cells by column name (``RowError``/``InvalidInputError``/
    ``PathTraversalError`` with the reason otherwise)."""
    unknown = sorted(set(cells) - set(COLUMNS))
    if unknown:
        raise RowError(f"unknown column(s) {unknown}; the columns are {', '.join(COLUMNS)}")
    video = _cell(cells.get("video_id"))
    if not video:
        raise RowError("no video_id")
    return ManifestRow(
        manifest=manifest,
        line=line,
        video_id=check_video_id(video),
        source=_source(cells.get("source")),
        targets=_targets(cells.get("targets")),
        review_policy=_review_policy(cells.get("review_policy")),
        preset=_preset(cells.get("preset")),
    )


def _csv_cells(text: str) -> Iterator[tuple[int, Mapping[str, object] | str]]:
    """(line, cells by column) per data row of a CSV manifest, or (line, what went wrong)."""
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            yield (
                1,
                (
                    f"the header has no {', '.join(missing)} column (it needs "
                    f"{', '.join(REQUIRED)}); nothing in the file is read"
                ),
            )
            return
        for cells in reader:
            if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                continue
            if len(cells) > len(header):
                yield (
                    reader.line_num,
                    f"{len(cells)} cells, the header has {len(header)}; row skipped",
                )
                continue
            yield reader.line_num, dict(zip(header, cells, strict=False))
    except csv.Error as exc:
        yield reader.line_num, f"not CSV ({exc}); the rest of the file is skipped"


def _jsonl_cells(text: str) -> Iterator[tuple[int, Mapping[str, object] | str]]:
    """(line, cells by column) per non-blank line of a JSON Lines manifest, or (line, reason)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not JSON ({exc.msg}); row skipped"
            continue
        if not isinstance(value, dict):
            yield number, "not a JSON object; row skipped"
            continue
        yield number, cast(dict[str, object], value)


def parse_manifest(key: str, data: bytes) -> tuple[list[ManifestRow], list[str]]:
    """The valid rows of one manifest file and a ``file:line: reason`` line per other row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [f"{key}:1: not UTF-8 text; nothing in it is read"]
    cells = _jsonl_cells(text) if key.endswith(".jsonl") else _csv_cells(text)
    rows: list[ManifestRow] = []
    problems: list[str] = []
    for line, item in cells:
        if isinstance(item, str):
            problems.append(f"{key}:{line}: {item}")
            continue
        try:
            rows.append(parse_row(key, line, item))
        except LocalizationError as exc:
            problems.append(f"{key}:{line}: {exc}; row skipped")
    return rows, problems


def read_manifests(
    storage: StorageBackend, page_size: int = 500
) -> tuple[list[ManifestRow], list[str]]:
    """Every valid row of every manifest under ``manifests/`` (in key order), and a line per
    row or file that cannot be used."""
    rows: list[ManifestRow] = []
    problems: list[str] = []
    for info in storage.list(MANIFESTS, page_size=page_size):
        if not info.key.endswith(SUFFIXES):
            problems.append(f"{info.key}: not a manifest (.csv or .jsonl); ignored")
            continue
        try:
            data = storage.read_bytes(info.key)
        except ObjectNotFoundError:  # pragma: no cover - a race: deleted since the listing
            continue
        found, bad = parse_manifest(info.key, data)
        rows += found
        problems += bad
    return rows, problems


# ---------------------------------------------------------------- storage look-ups


def _folders(keys: Iterable[str]) -> list[str]:
    """The fewest folder prefixes whose listings cover every key not at the root."""
    folders: list[str] = []
    for folder in sorted({key.rsplit("/", 1)[0] + "/" for key in keys if "/" in key}):
        if not folders or not folder.startswith(folders[-1]):
            folders.append(folder)
    return folders


def find_sources(
    storage: StorageBackend, keys: Iterable[str], page_size: int = 500
) -> dict[str, ObjectInfo]:
    """The stored objects among ``keys``: their folders are listed page by page (thousands
    of sources cost a few requests, not one each); a key at the root is looked up alone."""
    wanted = set(keys)
    found = {
        info.key: info
        for folder in _folders(wanted)
        for info in storage.list(folder, page_size=page_size)
        if info.key in wanted
    }
    for key in sorted(k for k in wanted if "/" not in k):
        try:
            found[key] = storage.info(key)
        except ObjectNotFoundError:
            continue
    return found


def version_of(info: ObjectInfo) -> str:
    """An object's content version, as a catalog record keeps it (MD5, else the etag)."""
    return info.content_md5 or info.etag


class RecordIndex:
    """The catalog records, re-read only when their object changed since the last look
    (a sensor keeps one: a tick lists ``catalog/`` instead of reading every record)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, VideoRecord]] = {}

    def load(self, storage: StorageBackend, page_size: int = 500) -> dict[str, VideoRecord]:
        """Every readable record by video id, as stored now."""
        cache: dict[str, tuple[str, VideoRecord]] = {}
        for info in storage.list("catalog/", page_size=page_size):
            if not info.key.endswith(".json"):
                continue
            cached = self._cache.get(info.key)
            if cached is not None and cached[0] == info.etag:
                cache[info.key] = cached
                continue
            try:
                record = VideoRecord.model_validate_json(storage.read_bytes(info.key))
            except (ObjectNotFoundError, ValidationError):  # removed since the listing, or
                continue  # broken: its video is reported when the tick writes its record
            cache[info.key] = (info.etag, record)
        self._cache = cache
        return {record.video_id: record for _, record in cache.values()}


# ---------------------------------------------------------------- the decision


@dataclass
class _Video:
    """One manifest video: its first row, and the targets of all its rows."""

    row: ManifestRow
    targets: list[str] = field(default_factory=list)


def _videos(
    rows: Sequence[ManifestRow], versions: Mapping[str, str]
) -> tuple[list[_Video], list[str]]:
    """The manifests' videos in order (rows of one video with one source merge), and a line
    for each row whose source is missing or contradicts an earlier row."""
    videos: dict[str, _Video] = {}
    skipped: list[str] = []
    for row in rows:
        if row.source not in versions:
            skipped.append(f"{row.where}: source {row.source!r} is not in storage; row skipped")
            continue
        first = videos.get(row.video_id)
        if first is None:
            videos[row.video_id] = first = _Video(row)
        elif first.row.source != row.source:
            skipped.append(
                f"{row.where}: {row.video_id} is listed at {first.row.where} with source "
                f"{first.row.source!r}; row skipped"
            )
            continue
        first.targets += [t for t in row.targets if t not in first.targets]
    return list(videos.values()), skipped


def _changed_choices(row: ManifestRow, record: VideoRecord | None) -> dict[str, str]:
    """The row's choices that the record does not have yet."""
    return {
        name: value
        for name, value in row.choices().items()
        if record is None or getattr(record, name) != value
    }


def plan_tick(
    rows: Sequence[ManifestRow],
    versions: Mapping[str, str],
    records: Mapping[str, VideoRecord],
    done: Iterable[Pair],
    cap: int,
) -> CatalogPlan:
    """What one tick does, decided from data alone.

    ``versions``: content version per stored source key; ``records``: catalog records by
    video id; ``done``: (video, language) pairs already localized (translated). A video is
    ingested when it has no record or its source's version differs from the record's; a pair
    is marked when it is neither in its record's targets nor done. At most ``cap`` ingests and
    ``cap`` pairs, in manifest order; a video left for a later tick has no pairs marked yet.
    """
    videos, skipped = _videos(rows, versions)
    localized = set(done)
    ingest: list[Ingest] = []
    choices: list[tuple[str, Mapping[str, str]]] = []
    pairs: list[Pair] = []
    deferred_videos = deferred_pairs = 0
    for video in videos:
        row, record = video.row, records.get(video.row.video_id)
        version = versions[row.source]
        wanted = [
            (row.video_id, target)
            for target in video.targets
            if (record is None or target not in record.targets)
            and (row.video_id, target) not in localized
        ]
        if record is None or record.version != version:
            if len(ingest) == cap:
                deferred_videos += 1
                deferred_pairs += len(wanted)
                continue
            ingest.append(Ingest(row.video_id, row.source, version, row.manifest, record is None))
        if changed := _changed_choices(row, record):
            choices.append((row.video_id, changed))
        room = cap - len(pairs)
        pairs += wanted[:room]
        deferred_pairs += len(wanted[room:])
    return CatalogPlan(
        ingest=tuple(ingest),
        choices=tuple(choices),
        pairs=tuple(pairs),
        skipped=tuple(skipped),
        deferred_videos=deferred_videos,
        deferred_pairs=deferred_pairs,
    )


# ---------------------------------------------------------------- applying it


@dataclass(frozen=True)
class Applied:
    """What applying a plan changed: the ingests whose record now holds their version, the
    pairs marked, and a line per video that could not be registered."""

    ingested: tuple[Ingest, ...]
    pairs: tuple[Pair, ...]
    problems: tuple[str, ...]


def _register(storage: StorageBackend, item: Ingest, info: ObjectInfo) -> str | None:
    """Register ``item`` at its version; the reason when the record keeps another upload."""
    record, _ = record_for_upload(storage, info, video_id=item.video_id)
    if record.version != item.version:
        return (
            f"{item.manifest}: {item.video_id} keeps its newer upload {record.upload_key!r} "
            f"(the manifest's {item.source!r} is older); not re-ingested"
        )
    return None


def _reason(exc: Exception) -> str:
    """Why a catalog write failed, in one line without secrets: our own errors' message, else
    only the error's type (a storage error's text may carry an account URL)."""
    if isinstance(exc, LocalizationError):
        return str(exc).splitlines()[0]
    return type(exc).__name__


def apply_plan(
    storage: StorageBackend, plan: CatalogPlan, sources: Mapping[str, ObjectInfo]
) -> Applied:
    """Write the plan into the catalog, video by video: the record of an ingest, the choices,
    then the targets. A video whose write fails (a broken record, a storage error) is reported
    and left for the next tick; the others go on, so no tick loses the runs it started."""
    ingests = {item.video_id: item for item in plan.ingest}
    choices = dict(plan.choices)
    targets: dict[str, list[str]] = {}
    for video, target in plan.pairs:
        targets.setdefault(video, []).append(target)
    ingested: list[Ingest] = []
    marked: list[Pair] = []
    problems: list[str] = []
    for video in dict.fromkeys([*ingests, *choices, *targets]):
        try:
            if (item := ingests.get(video)) is not None:
                kept = _register(storage, item, sources[item.source])
                if kept is None:
                    ingested.append(item)
                else:
                    problems.append(kept)
            if video in choices:
                update_record(storage, video, **choices[video])
            if video in targets:
                request_targets(storage, video, targets[video])
                marked += [(video, target) for target in targets[video]]
        except Exception as exc:  # one video's failure must not stop the others
            problems.append(
                f"catalog record of {video} not updated ({_reason(exc)}); retried next tick"
            )
    return Applied(ingested=tuple(ingested), pairs=tuple(marked), problems=tuple(problems))
