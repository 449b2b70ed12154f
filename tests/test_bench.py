"""The reduced bench (`python -m bench --quick`): one 8 s clip through every figure, so the
bench cannot rot; its figures are checked against each other and against the product's claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import table
from localization_core import media
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("bench")
    readme = (REPO / "README.md").read_bytes()
    out = folder / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--work", str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (REPO / "README.md").read_bytes() == readme, "the quick bench leaves the README"
    loaded: dict[str, Any] = json.loads(out.read_text())
    loaded["input_frames"] = media.probe(folder / "inputs" / "face-8s.mp4").frame_count
    return loaded


def test_gpu_frames_are_bounded_by_speech_below_and_all_frames_above(
    results: dict[str, Any],
) -> None:
    frames = results["gpu_frames"]["face-8s"]
    assert frames["frames_total"] == results["input_frames"]
    assert 0 < frames["frames_speech_bound"] <= frames["frames_sent"] <= frames["frames_total"]
    assert results["gpu_frames"]["total"]["frames_sent"] == frames["frames_sent"]


def test_a_dub_only_window_takes_under_a_second_and_stores_nothing(
    results: dict[str, Any],
) -> None:
    dub_only = results["dub_only_window"]
    assert dub_only["step_s"]["n"] >= 1
    assert dub_only["step_s"]["max"] < 1.0
    assert dub_only["stored_objects"] == 0


def test_the_face_track_spares_the_engine_the_failures_bisect_pays_for(
    results: dict[str, Any],
) -> None:
    with_track, alone = (results["engine_failures"][k] for k in ("with_face_track", "bisect_alone"))
    assert with_track["engine_failures"] == 0 < alone["engine_failures"]
    assert alone["engine_calls"] > with_track["engine_calls"]
    assert alone["frames_dub_only_fallback"] > 0 == with_track["frames_dub_only_fallback"]


def test_a_kill_in_the_engine_costs_at_most_the_window_in_flight(results: dict[str, Any]) -> None:
    resume = results["resume"]
    assert resume["windows_done_before_kill"] >= 1, "the kill came after a finished window"
    assert resume["finished_windows_recomputed"] == 0
    assert resume["windows_recomputed"] <= 1
    overhead = resume["overhead"]
    assert len(overhead) == resume["windows"]
    assert all(row["step_s"] >= row["window_s"] >= row["engine_s"] >= 0 for row in overhead)


def test_every_stage_has_time_cpu_and_memory(results: dict[str, Any]) -> None:
    stages = results["per_minute"]["face-8s"]["stages"]
    assert {"face_track", "transcript", "dub_track", "lipsync", "localized_video"} <= set(stages)
    assert all(s["cpu"]["median"] > 0 and s["wall"]["median"] > 0 for s in stages.values())
    end_to_end = results["per_minute"]["face-8s"]["end_to_end"]["wall"]["median"]
    assert end_to_end > sum(s["wall"]["median"] for s in stages.values())
    memory = results["memory"]["stages"]
    assert set(memory) == set(stages)
    assert all(m["short_mb"] > 50 and m["long_mb"] > 50 for m in memory.values())


def test_smart_render_and_the_readme_table(results: dict[str, Any], tmp_path: Path) -> None:
    render = results["smart_render"]
    assert render["smart_bytes"] > 0 and render["speedup"]["median"] > 0
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\ntext\n")
    table.update_readme(readme, results)
    once = readme.read_text()
    table.update_readme(readme, results)
    assert readme.read_text() == once, "rewriting replaces the section, it does not add one"
    frames = results["gpu_frames"]["face-8s"]
    assert f"| face-8s | {frames['frames_total']} | {frames['frames_sent']} |" in once
    assert once.startswith("# Title\n\ntext\n")
