"""`localize`: drive the asset graph from a terminal (in-process, no daemon needed).

Every user mistake ends in one line on stderr and a non-zero exit, never a traceback.
"""

import contextlib
import functools
import json
import os
import signal
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
import dagster as dg
import typer
from rich.console import Console
from rich.table import Table

from localization_core import media
from localization_core.catalog import (
    ReviewPolicy,
    check_language,
    check_video_id,
    list_records,
    load_record,
    set_preset,
    update_record,
)
from localization_core.errors import InvalidInputError, LocalizationError
from localization_core.glossary import Glossary, load_glossary, read_glossary, set_glossary
from localization_core.llm_server import needs_local_server, serving
from localization_core.presets import resolve
from localization_core.review import load_review, load_transcript_review
from localization_core.settings import get_settings
from localization_core.stages.localized_video import output_prefix
from localization_core.stages.voice_refs import set_user_ref
from localization_core.storage.local import LocalStorage
from localization_dagster.assets.common import describe
from localization_dagster.freshness import (
    AssetState,
    StaleChecker,
    burn_state,
    downstream,
    glossary_state,
    plan,
    preset_state,
    review_state,
    source_state,
    transcript_review_state,
)
from localization_dagster.orphans import mark_orphans
from localization_dagster.registration import (
    correct_source_language,
    register,
    request_languages,
)
from localization_dagster.report import summary_rows
from localization_dagster.resources import Toolkit, toolkit
from localization_dagster.review import (
    approve_pair,
    approve_video_transcript,
    export_pair,
    export_transcript_of,
    gate_of,
    submit_file,
    submit_transcript_file,
    transcript_gate_of,
)
from localization_dagster.runner import (
    LOCALIZATION_ASSETS,
    VIDEO_ASSETS,
    RunFailedError,
    dagster_home,
    materialize,
    open_instance,
)
from localization_dagster.status import status_rows

CLIP_ARGUMENT = typer.Argument(..., help="a 3-30 s recording of the speaker (any audio)")
GLOSSARY_OPTION = typer.Option(
    None, "--glossary", help="CSV of terms (source,target,language) this video must keep"
)
REVIEW_OPTION = typer.Option(
    None,
    "--review",
    help="review gate after translation: auto (approve at once) or required (hold each "
    "localization until `localize approve`); default: REVIEW_POLICY",
)
BURN_OPTION = typer.Option(
    None,
    "--burn-subtitles/--no-burn-subtitles",
    help="also draw the subtitles into the picture (re-encodes it once); kept for the video",
)
TO_ONE = typer.Option(None, "--to", help="the target language of the localization")
TRANSCRIPT_FLAG = typer.Option(
    False, "--transcript", help="the video's transcript (its gate before translation)"
)
REVIEW_TRANSCRIPT_OPTION = typer.Option(
    None,
    "--review-transcript/--no-review-transcript",
    help="hold translation until a reviewer approves the transcript; default: REVIEW_TRANSCRIPT",
)
REVIEW_FILE = typer.Argument(None, help="a review file to submit (.csv or .srt)")
EXPORT_OPTION = typer.Option(
    None, "--export", help="write the review file (.csv: text, timing, speaker; .srt)"
)
app = typer.Typer(
    help="Localize videos: dub, subtitle and lip-sync them into other languages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def _error(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _log_details(exc: BaseException) -> Path | None:
    """Write the traceback to ``<data dir>/logs/localize.log`` (or the temp dir when the data
    dir cannot be written); returns where it went."""
    text = "".join(traceback.format_exception(exc))
    data_dir = Path(os.environ.get("LOCALIZATION_DATA_DIR", "data"))
    for folder in (data_dir / "logs", Path(tempfile.gettempdir()) / "localize-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "localize.log"
            with path.open("a", encoding="utf-8") as log:
                log.write(f"--- {datetime.now(UTC).isoformat()}\n{text}")
            return path
        except OSError:
            continue
    return None


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Every failure is one ``error: ...`` line and a non-zero exit, never a traceback: known
    failures and environment problems (a read-only disk, a too-long path) exit 1; anything
    unexpected exits 2 and its traceback goes to a log file that the line names."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except (LocalizationError, RunFailedError) as exc:
            raise _error(str(exc), 1) from None
        except OSError as exc:
            _log_details(exc)
            raise _error(describe(exc), 1) from None
        except Exception as exc:
            where = _log_details(exc)
            detail = f" (details in {where})" if where else ""
            raise _error(f"internal error: {describe(exc)}{detail}", 2) from None

    return wrapper


def _targets(to: str) -> list[str]:
    return [check_language(code) for code in to.split(",") if code.strip()]


def _progress(step: str, event: str, seconds: float) -> None:
    if event == "start":
        out.print(f"  [cyan]…[/cyan] {step}", highlight=False)
    elif event == "done":
        out.print(f"  [green]✓[/green] {step} [dim]({seconds:.1f} s)[/dim]", highlight=False)
    else:
        out.print(f"  [red]✗[/red] {step}", highlight=False)


def _deliverable(rt: Toolkit, key: str) -> Path:
    """A local path of a stored output (downloaded when storage is remote)."""
    if isinstance(rt.storage, LocalStorage):
        return rt.storage.path_for(key)
    return rt.storage.download_file(key, rt.settings.data_dir / "downloads" / key)


def _summary(rt: Toolkit, video_id: str, language: str) -> Path:
    prefix = output_prefix(video_id, language)
    report: dict[str, Any] = json.loads(rt.storage.read_bytes(f"{prefix}/report.json"))
    video = _deliverable(rt, f"{prefix}/{video_id}.{language}.mp4")
    _deliverable(rt, f"{prefix}/{video_id}.{language}.srt")
    table = Table(title=f"{video_id} -> {language}", show_header=False)
    for name, value in summary_rows(report):
        table.add_row(name, value)
    out.print(table)
    out.print(f"[bold]output:[/bold] {video}", highlight=False, soft_wrap=True)
    return video


def _run_level(
    instance: dg.DagsterInstance,
    states: list[AssetState],
    partition: str,
    forced: set[str],
) -> None:
    """Materialize what ``states`` says is due (and what ``forced`` names); say what is reused."""
    from localization_dagster.definitions import current, defs

    checker = StaleChecker(instance, defs)
    due = plan(checker, states, forced)
    reused = [state.asset for state in states if state.asset not in due]
    if reused:
        out.print(f"  [dim]= reused (fresh): {', '.join(reused)}[/dim]", highlight=False)
    missing = [state.asset for state in states if state.status == "missing"]
    if missing:
        out.print(f"  [dim]+ never materialized: {', '.join(missing)}[/dim]", highlight=False)
    for state in states:
        if state.status == "stale":
            out.print(f"  [yellow]![/yellow] {state.asset} is stale: {state.reason}")
    if due:
        with _translation_service(due):
            run_id = materialize(current(), instance, due, partition, _progress)
        out.print(f"run {run_id}", highlight=False)


@contextlib.contextmanager
def _translation_service(due: list[str]) -> Iterator[None]:
    """The local LLM server while a run that may ask it (translation, shorten) goes on, when
    the ``openai`` translator has no endpoint of its own."""
    settings = get_settings()
    if not (needs_local_server(settings) and {"translation", "dub_track"} & set(due)):
        yield
        return
    out.print("  [dim]starting the local LLM server ...[/dim]", highlight=False)
    with serving(settings):
        yield


def _mark_orphans(instance: dg.DagsterInstance) -> None:
    """Fail the runs of `localize` processes that died, and say so."""
    for run_id in mark_orphans(instance):
        out.print(
            f"[yellow]marked run {run_id[:8]} failed: its localize process ended[/yellow]",
            highlight=False,
        )


def _forced(force: str | None) -> set[str]:
    """The assets ``--force`` redoes: one stage and everything downstream of it, or all."""
    from localization_dagster.definitions import defs

    everything = {*VIDEO_ASSETS, *LOCALIZATION_ASSETS}
    if force is None:
        return set()
    if force == "all":
        return everything
    if force not in everything:
        raise InvalidInputError(
            f"--force {force!r}: not a stage (one of {', '.join(sorted(everything))}, or all)"
        )
    return downstream(defs, force) & everything


@dataclass(frozen=True)
class _PairInputs:
    """What a localization depends on that Dagster does not see."""

    preset: str
    glossary: Glossary
    review: str
    transcript_review: str
    burn: bool


def _with_inputs(
    checker: StaleChecker, state: AssetState, key: str, inputs: _PairInputs
) -> AssetState:
    """``state`` also judged against the inputs Dagster does not see: the video's preset (for
    the sync plan), its glossary (for the translation) and reviewers' decisions (the gate)."""
    if state.asset == "sync_plan":
        return preset_state(checker, state, key, inputs.preset)
    if state.asset == "translation":
        glossary = inputs.glossary
        state = glossary_state(checker, state, key, glossary.digest() if glossary.terms else "")
        return transcript_review_state(checker, state, key, inputs.transcript_review)
    if state.asset == "translation_review":
        return review_state(checker, state, key, inputs.review)
    if state.asset == "localized_video":
        return burn_state(checker, state, key, inputs.burn)
    return state


def _awaits(headline: str, what: str, video_id: str, which: str) -> None:
    """Say that a gate holds the pair, and what the reviewer does next."""
    out.print(
        f"[yellow]{headline}[/yellow]: check the {what} "
        f"(localize edit {video_id} {which} --export FILE), then "
        f"localize approve {video_id} {which}",
        highlight=False,
        soft_wrap=True,
    )


def _localize(video_id: str, targets: list[str], force: str | None = None) -> list[Path]:
    """Materialize only what is missing, stale or forced: the video level, then each target; a
    pair that awaits a review stops at its gate."""
    from localization_dagster.definitions import defs

    rt = toolkit()
    instance = open_instance(rt.settings)
    forced = _forced(force)
    _mark_orphans(instance)
    record = load_record(rt.storage, video_id)
    preset = resolve(record.preset, rt.settings.lipsync_provider, 0.0).preset
    out.print(f"[bold]{video_id}[/bold]: video-level stages", highlight=False)
    checker = StaleChecker(instance, defs)
    states = [source_state(checker, record)]
    states += [checker.state(asset, video_id) for asset in VIDEO_ASSETS[1:]]
    _run_level(instance, states, video_id, forced)
    outputs = []
    for target in targets:
        key = dg.MultiPartitionKey({"video": video_id, "lang": target})
        out.print(f"[bold]{video_id} -> {target}[/bold] (preset {preset})", highlight=False)
        checker = StaleChecker(instance, defs)  # after the video-level run
        states = [checker.state(asset, str(key)) for asset in LOCALIZATION_ASSETS]
        inputs = _PairInputs(
            preset=preset,
            glossary=load_glossary(rt.storage, video_id, target),
            review=load_review(rt.storage, video_id, target).digest(),
            transcript_review=load_transcript_review(rt.storage, video_id).edits_digest(),
            burn=record.burn_subtitles,
        )
        states = [_with_inputs(checker, st, str(key), inputs) for st in states]
        _run_level(instance, states, key, forced)
        if transcript_gate_of(rt.storage, video_id, rt.settings.review_transcript) != "approved":
            _awaits(f"{video_id} awaits transcript review", "transcript", video_id, "--transcript")
            continue
        if gate_of(rt.storage, video_id, target, rt.settings.review_policy) != "approved":
            _awaits(
                f"{video_id} -> {target} awaits review", "translation", video_id, f"--to {target}"
            )
            continue
        outputs.append(_summary(rt, video_id, target))
    return outputs


@app.command()
@one_line_errors
def add(  # noqa: PLR0917 - typer passes each option as a parameter
    video_or_path: str,
    to: str = typer.Option(..., "--to", help="target languages, comma separated (es,fr)"),
    source: str | None = typer.Option(None, "--from", help="source language (skip detection)"),
    video_id: str | None = typer.Option(None, "--id", help="video id (default: from the name)"),
    glossary: Path | None = GLOSSARY_OPTION,
    review: str | None = REVIEW_OPTION,
    burn_subtitles: bool | None = BURN_OPTION,
    review_transcript: bool | None = REVIEW_TRANSCRIPT_OPTION,
) -> None:
    """Register a video (a path) or request more languages for a registered one (its id); only
    the requested (video, language) pairs are localized."""
    rt = toolkit()
    instance = open_instance(rt.settings)
    path = Path(video_or_path)
    policy = _policy(review)
    if glossary is not None:
        read_glossary(glossary)  # one line before any work if it is malformed
    if not (path.suffix or path.exists()):
        if source:
            correct_source_language(rt, video_or_path, source)
        record = request_languages(rt, instance, video_or_path, _targets(to))
        _store_options(
            rt,
            record.video_id,
            glossary,
            policy,
            burn=burn_subtitles,
            review_transcript=review_transcript,
        )
        out.print(f"{record.video_id} -> {', '.join(record.targets)}", highlight=False)
        return
    record = register(
        rt, instance, path, targets=_targets(to), source_language=source, video_id=video_id
    )
    _store_options(
        rt,
        record.video_id,
        glossary,
        policy,
        burn=burn_subtitles,
        review_transcript=review_transcript,
    )
    out.print(f"registered [bold]{record.video_id}[/bold] -> {to}", highlight=False)


def _policy(review: str | None) -> ReviewPolicy | None:
    """The review policy of ``--review`` (None when not given), or one clear error."""
    if review is None:
        return None
    if review not in ("auto", "required"):
        raise InvalidInputError(f"--review {review!r}: use auto or required")
    return "required" if review == "required" else "auto"


def _store_options(
    rt: Toolkit,
    video_id: str,
    glossary: Path | None,
    policy: ReviewPolicy | None,
    *,
    burn: bool | None,
    review_transcript: bool | None = None,
) -> None:
    """Keep the per-video choices given on the command line on its catalog record."""
    _store_glossary(rt, video_id, glossary)
    given = {
        "review_policy": policy,
        "burn_subtitles": burn,
        "review_transcript": review_transcript,
    }
    update_record(rt.storage, video_id, **{k: v for k, v in given.items() if v is not None})
    if policy is not None:
        out.print(f"review of {video_id}: {policy}", highlight=False)


def _store_glossary(rt: Toolkit, video_id: str, glossary: Path | None) -> None:
    if glossary is not None:
        terms = set_glossary(rt.storage, video_id, glossary)
        out.print(f"glossary of {video_id}: {terms} terms", highlight=False)


@app.command()
@one_line_errors
def run(  # noqa: PLR0917 - typer passes each option as a parameter
    video_or_path: str,
    to: str = typer.Option(..., "--to", help="target languages, comma separated"),
    preset: str | None = typer.Option(
        None, help="lip-sync preset: FAST, BALANCED, HIGH_QUALITY or ULTRA (the engine's default)"
    ),
    source: str | None = typer.Option(
        None, "--from", help="source language (skip detection); corrects a registered video's"
    ),
    video_id: str | None = typer.Option(None, "--id", help="video id for a new path"),
    force: str | None = typer.Option(
        None, "--force", help="redo on purpose: a STAGE and what follows it, or all"
    ),
    glossary: Path | None = GLOSSARY_OPTION,
    review: str | None = REVIEW_OPTION,
    burn_subtitles: bool | None = BURN_OPTION,
    review_transcript: bool | None = REVIEW_TRANSCRIPT_OPTION,
) -> None:
    """Register (for a path) and localize a video now, in this process; only what is missing,
    failed or stale is materialized, the rest is reused."""
    rt = toolkit()
    policy = _policy(review)
    chosen = preset.upper() if preset else None
    resolve(chosen, rt.settings.lipsync_provider, 0.0)  # one line before any work if refused
    if glossary is not None:
        read_glossary(glossary)
    targets = _targets(to)
    path = Path(video_or_path)
    if path.suffix or path.exists():
        record = register(
            rt,
            open_instance(rt.settings),
            path,
            targets=targets,
            source_language=source,
            video_id=video_id,
        )
        vid = record.video_id
    else:
        vid = load_record(rt.storage, video_or_path).video_id
        if source:
            correct_source_language(rt, vid, source)
        request_languages(rt, open_instance(rt.settings), vid, targets)
    if chosen:
        set_preset(rt.storage, vid, chosen)
    _store_options(
        rt, vid, glossary, policy, burn=burn_subtitles, review_transcript=review_transcript
    )
    _localize(vid, targets, force)


@app.command()
@one_line_errors
def remove(
    video: str = typer.Argument(..., help="the video id to remove"),
    at_retention: bool = typer.Option(
        False, "--at-retention", help="flag it; the daily retention job (03:00 UTC) removes it"
    ),
) -> None:
    """Remove a video: its catalog record, upload, artifacts, segments, outputs, its runs and
    partitions in Dagster (e.g. a source that failed as not media, or a takedown)."""
    from localization_dagster.removal import flag_takedown, remove_video

    rt = toolkit()
    if at_retention:
        flag = flag_takedown(rt.storage, video)
        out.print(
            f"{video} flagged for takedown ({flag}): the retention job removes it",
            highlight=False,
        )
        return
    removed = remove_video(rt, open_instance(rt.settings), video)
    out.print(
        f"removed {video}: {removed.objects} stored objects, {removed.partitions} partitions, "
        f"{removed.runs} runs",
        highlight=False,
    )


@app.command()
@one_line_errors
def demo(to: str = typer.Option("en", "--to", help="target language")) -> None:
    """Generate the demo sample (first time) and localize it."""
    from localization_core.sample import generate_sample

    rt = toolkit()
    sample = rt.settings.data_dir / "demo" / "demo.mp4"
    if not sample.exists():
        out.print("generating the demo sample (30 s, Italian speech) ...")
        generate_sample(sample)
    targets = _targets(to)
    register(rt, open_instance(rt.settings), sample, targets=targets, video_id="demo")
    _localize("demo", targets)


def _pair(video: str, to: str | None, transcript: bool) -> tuple[str, str | None]:
    """The video id and target language a review command works on, checked."""
    if transcript and to is not None:
        raise InvalidInputError("--transcript is one per video: leave out --to")
    if not transcript and to is None:
        raise InvalidInputError("give the localization with --to LANG (or --transcript)")
    return check_video_id(video), check_language(to) if to is not None else None


@app.command()
@one_line_errors
def approve(
    video: str = typer.Argument(..., help="the video id"),
    to: str | None = TO_ONE,
    transcript: bool = TRANSCRIPT_FLAG,
    by: str = typer.Option("", "--by", help="who approves (recorded with the approval)"),
) -> None:
    """Approve a localization that awaits review (or, with --transcript, the video's
    transcript); the stages after the gate then run here."""
    rt = toolkit()
    vid, lang = _pair(video, to, transcript)
    record = load_record(rt.storage, vid)
    reviewer = by or os.environ.get("USER", "")
    if lang is None:
        if transcript_gate_of(rt.storage, vid, rt.settings.review_transcript) == "approved":
            out.print(f"the transcript of {vid} is approved already", highlight=False)
            _localize(vid, list(record.targets))
            return
        out.print(f"approving the transcript of {vid}", highlight=False)
        approve_video_transcript(rt.storage, vid, reviewer)  # the transcript as it is now
        _localize(vid, list(record.targets))
        return
    if gate_of(rt.storage, vid, lang, rt.settings.review_policy) == "approved":
        out.print(f"{vid} -> {lang} is approved already", highlight=False)
        _localize(vid, [lang])
        return
    out.print(f"approving {vid} -> {lang}", highlight=False)
    approve_pair(rt.storage, vid, lang, reviewer)  # the translation the reviewer saw
    _localize(vid, [lang])


@app.command()
@one_line_errors
def edit(
    video: str = typer.Argument(..., help="the video id"),
    file: Path | None = REVIEW_FILE,
    to: str | None = TO_ONE,
    transcript: bool = TRANSCRIPT_FLAG,
    export: Path | None = EXPORT_OPTION,
) -> None:
    """Export a localization's review file (or, with --transcript, the video's transcript), or
    submit an edited one: it is checked whole, and only what it changes is redone."""
    rt = toolkit()
    vid, lang = _pair(video, to, transcript)
    record = load_record(rt.storage, vid)
    what = f"{vid} -> {lang}" if lang else f"the transcript of {vid}"
    if export is not None:
        if lang is None:
            count = export_transcript_of(rt.storage, vid, export)
        else:
            count = export_pair(rt.storage, vid, lang, export)
        out.print(f"wrote {count} lines of {what} to {export}", highlight=False)
        return
    if file is None:
        raise InvalidInputError("give the review FILE to submit, or --export FILE to write one")
    if not file.is_file():
        raise InvalidInputError(f"{file}: no such file")
    raw = file.read_bytes()
    if lang is None:
        changed = submit_transcript_file(rt.storage, vid, raw, file.name)
    else:
        changed = submit_file(rt.storage, vid, lang, raw, file.name)
    if not changed:
        out.print(f"{file.name}: no line changed; nothing to redo", highlight=False)
        return
    ids = ", ".join(map(str, changed))
    out.print(f"{file.name}: accepted, lines {ids} changed", highlight=False)
    _localize(vid, [lang] if lang else list(record.targets))


@app.command()
@one_line_errors
def status(video: str | None = typer.Argument(None, help="one video id (default: all)")) -> None:
    """Stage x partition: done, stale, failed (with stage and message), awaiting review."""
    rt = toolkit()
    instance = open_instance(rt.settings)
    records = [load_record(rt.storage, video)] if video else list_records(rt.storage)
    if not records:
        out.print("no videos registered yet (localize add PATH --to LANG)")
        return
    table = Table("partition", "stage", "status", "detail")
    from localization_dagster.definitions import defs

    _mark_orphans(instance)
    settings = rt.settings
    rows = status_rows(
        instance,
        defs,
        records,
        rt.storage,
        default_policy=settings.review_policy,
        review_transcript=settings.review_transcript,
    )
    for row in rows:
        colour = {
            "done": "green",
            "failed": "red",
            "stale": "yellow",
            "awaiting review": "magenta",
        }.get(row.status, "dim")
        table.add_row(row.partition, row.stage, f"[{colour}]{row.status}[/{colour}]", row.detail)
    out.print(table)


@app.command()
def ui(
    port: int = typer.Option(3000, help="port of the Dagster UI"),
    host: str = typer.Option("127.0.0.1", help="address the UI listens on"),
) -> None:
    """Serve the Dagster UI and run the daemon (sensors, automation) on the CLI's instance."""
    from localization_dagster.ui import serve

    rt = toolkit()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(rt.settings))}
    with contextlib.ExitStack() as stack:
        if needs_local_server(rt.settings):
            stack.enter_context(serving(rt.settings))
        code = serve(env, host, port, lambda line: out.print(line, highlight=False, soft_wrap=True))
    raise typer.Exit(code)


@app.command()
@one_line_errors
def worker(
    queue: str = typer.Option(..., "--queue", help="the queue this node serves: gpu or cpu"),
    concurrency: int | None = typer.Option(
        None, min=1, help="steps at once (default: 1 on gpu, one per core on cpu)"
    ),
) -> None:
    """Serve a Celery queue of the multi-node executor (LOCALIZATION_EXECUTOR=celery) until
    stopped: ``gpu`` on each GPU node (one step at a time, in a thread), ``cpu`` elsewhere."""
    from localization_dagster.workers import QUEUES, worker_app, worker_argv

    if queue not in QUEUES:
        raise InvalidInputError(f"--queue {queue!r}: a worker serves gpu or cpu")
    worker_app().worker_main(worker_argv("gpu" if queue == "gpu" else "cpu", concurrency))


@app.command()
@one_line_errors
def llm() -> None:
    """Serve the packaged CPU translation model (llama.cpp, OpenAI-compatible) for this data dir
    until interrupted; every `localize` command and run of the data dir uses it."""
    settings = get_settings()
    with serving(settings) as base_url:
        out.print(f"serving {settings.translator_model} at {base_url} (Ctrl-C stops it)")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(1.0):
            pass


@app.command("tts-server")
@one_line_errors
def tts_server(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8020, help="port to listen on"),
    rate: int | None = typer.Option(None, help="reply at this sample rate (XTTS: 24000)"),
    stream: bool = typer.Option(False, help="reply as a streamed WAV (no length in its header)"),
) -> None:
    """Serve the reference TTS service (the `http` synthesizer's contract, a CPU voice behind
    it) until interrupted: POST /synthesize."""
    from localization_core.tts_server import serve

    out.print(f"reference TTS service at http://{host}:{port}/synthesize (Ctrl-C stops it)")
    serve(host, port, rate=rate, stream=stream)


@app.command()
@one_line_errors
def voice(
    video: str = typer.Argument(..., help="the video id"),
    clip: Path = CLIP_ARGUMENT,
    speaker: str = typer.Option("S1", "--speaker", help="the speaker id it belongs to"),
    text: str | None = typer.Option(
        None, "--text", help="what the clip says (default: transcribed with the STT model)"
    ),
) -> None:
    """Use CLIP as SPEAKER's voice reference for VIDEO (kept until the video is removed); the
    dubs made after it use the new reference."""
    from localization_dagster.definitions import defs

    rt = toolkit()
    record = load_record(rt.storage, video)
    if not clip.is_file():
        raise InvalidInputError(f"{clip}: no such file")
    words = text if text is not None else _transcribed(rt, clip)
    ref = set_user_ref(rt.workspace, video, speaker, clip, words)
    out.print(f"{video}: {speaker}'s voice reference is {clip.name} ({ref.duration:.1f} s)")
    instance = open_instance(rt.settings)
    checker = StaleChecker(instance, defs)
    states = [source_state(checker, record)]
    states += [checker.state(asset, video) for asset in VIDEO_ASSETS[1:]]
    _run_level(instance, states, video, {"voice_refs"})


def _transcribed(rt: Toolkit, clip: Path) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        speech = media.extract_speech_audio(clip, Path(scratch) / "speech.wav")
        transcript = rt.transcriber.transcribe(speech, language=None)
    return " ".join(line.text for line in transcript.lines)
