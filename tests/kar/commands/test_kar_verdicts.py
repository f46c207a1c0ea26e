"""manage.py kar_verdicts FOLDER: the verdicts and report files again from results.csv and manifest.json, no training."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kar.core.cells import Result
from kar.core.store import COMPARISONS, MANIFEST, MANIFEST_KIND, REPORT_MD, RESULTS, SUMMARY, VERDICTS, ResultsLog
from kar.core.verdict import PIXELS_50, runs_needed

SD = 0.365  # the median sd of a cell's gain over 5 runs in results/kar/kar-paper


def write_folder(folder, gain: float, runs: int, *, mode: str = "kar", extra: list[Result] = ()) -> None:
    """A run folder as run_kar leaves it: NormLIME's pixel gain at 50 % with mean ``gain`` and sd exactly SD."""
    folder.mkdir()
    manifest = {"kind": MANIFEST_KIND, "parameters": {"mode": mode, "runs": runs}, "expected_cells": 2 * runs}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    noise = np.random.default_rng(0).standard_normal(runs)
    gains = gain + (noise - noise.mean()) / noise.std(ddof=1) * SD
    log = ResultsLog(folder / RESULTS)
    for run, g in enumerate(gains, 1):
        log.append(Result("pixels", mode, "baseline", 0, run, run - 1, 0.97, 0.0, 1.0))
        log.append(Result("pixels", mode, "normlime", 50, run, run - 1, 0.97 - g / 100, float(g), 1.0))
    for r in extra:
        log.append(r)


def judge(folder) -> str:
    stdout = StringIO()
    call_command("kar_verdicts", str(folder), stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def outcome(folder, claim: str = PIXELS_50, convention=None) -> str:
    saved = json.loads((folder / VERDICTS).read_text())
    return next(v["outcome"] for v in saved if v["claim"] == claim and v["convention"] == convention)


def test_a_gain_truly_0_at_the_runs_the_power_asks_for_is_supported(tmp_path):
    n = runs_needed(PIXELS_50, SD)  # 20
    write_folder(tmp_path / "zero", 0.0, n)
    text = judge(tmp_path / "zero")
    assert outcome(tmp_path / "zero") == "supported"
    assert "NormLIME's error gain is about 0 when 50 % of the pixels are removed: **supported**" in text
    assert (
        f"Power: TOST at n = {n}, sd 0.365: t(0.95, {n - 1}) = 1.729, half-width of the 90 % interval 0.14 pp" in text
    )
    assert f"80 % needs n >= {n}" in text
    for name in (REPORT_MD, SUMMARY, COMPARISONS, "fig5_pixels.png"):
        assert (tmp_path / "zero" / name).is_file()
    assert f"Judged {2 * n} cells of {tmp_path / 'zero'}; wrote {VERDICTS}, {REPORT_MD}" in text


def test_a_gain_of_one_point_is_not_supported(tmp_path):
    write_folder(tmp_path / "one", 1.0, runs_needed(PIXELS_50, SD))
    judge(tmp_path / "one")
    assert outcome(tmp_path / "one") == "not supported"


def test_the_verdicts_under_a_variant_convention_are_printed_and_saved(tmp_path):
    runs = 4
    variant = [Result("pixels", "kar", "normlime_std", 50, run, run - 1, 0.97, 0.0, 1.0) for run in range(1, runs + 1)]
    write_folder(tmp_path / "std", 1.0, runs, extra=variant)
    text = judge(tmp_path / "std")
    assert "With the confounds:" in text and "Claims that change: pixels-50-zero." in text
    assert outcome(tmp_path / "std", convention="std") == "supported"


def test_a_roar_run_gets_no_verdicts_and_says_why(tmp_path):
    write_folder(tmp_path / "roar", 0.0, 3, mode="roar")
    assert "No verdicts: the paper's claims are about KAR on MNIST, and this is a ROAR run." in judge(tmp_path / "roar")
    assert not (tmp_path / "roar" / VERDICTS).exists()


@pytest.mark.parametrize(
    "remove, message",
    [
        ("folder", "no such folder"),
        (MANIFEST, f"no {MANIFEST}, so not a run_kar output folder with results"),
        (RESULTS, f"no {RESULTS}, so not a run_kar output folder with results"),
    ],
)
def test_a_missing_folder_manifest_or_results_is_one_line_and_writes_nothing(tmp_path, remove, message):
    folder = tmp_path / "run"
    write_folder(folder, 0.0, 3)
    if remove == "folder":
        folder = tmp_path / "elsewhere"
    else:
        (folder / remove).unlink()
    with pytest.raises(CommandError) as error:
        judge(folder)
    assert str(error.value) == f"{folder}: {message}"
    assert not (folder / REPORT_MD).exists() and not (folder / VERDICTS).exists()


def test_a_folder_of_another_kind_or_with_a_broken_results_file_is_one_line(tmp_path):
    folder = tmp_path / "run"
    write_folder(folder, 0.0, 3)
    (folder / RESULTS).write_text("not,a,kar,file\n")
    with pytest.raises(CommandError, match="not a KAR results file") as error:
        judge(folder)
    assert "\n" not in str(error.value)
    (folder / MANIFEST).write_text('{"kind": "something else"}')
    with pytest.raises(CommandError, match="not a run_kar output folder"):
        judge(folder)
    assert not (folder / REPORT_MD).exists()
