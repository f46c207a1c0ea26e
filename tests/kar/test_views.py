"""The researcher's KAR page: staff only, lists run folders under DATA_DIR/kar, shows the newest."""

from __future__ import annotations

import os
import time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.html import escape

from kar import demo as kar_demo
from kar.core import report as kar_report
from kar.core.cells import Result
from kar.core.store import MANIFEST, MANIFEST_KIND, RESULTS, ResultsLog, read_manifest, write_json_atomic

pytestmark = pytest.mark.django_db


def write_run(
    root,
    name: str,
    results: list[Result],
    expected: int,
    *,
    mode: str = "kar",
    report: bool = True,
    status: str = "complete",
    label: str | None = None,
):
    """A run folder as run_kar leaves it (no training: the rows are made up)."""
    folder = root / "kar" / name
    folder.mkdir(parents=True)
    manifest = {
        "kind": MANIFEST_KIND,
        "fingerprint": "abc",
        "parameters": {
            "mode": mode,
            "thresholds": [10, 50],
            "runs": 2,
            "seed": 0,
            "methods": ["normlime", "random"],
            "train": {"epochs": 10},
            "inputs": {"model_sha256": "d" * 64},
        },
        "feature_spaces": {"pixels": {"test": 10000}, "conv": {"test": 10000}},
        "expected_cells": expected,
        "model": {"path": "/models/m.pt", "sha256": "d" * 64},
        "explanation_set": None,
        "data": {"source": "embedded"},
        "sessions": [{"status": status, "device": "cpu", "jobs": 2, "cells_run": len(results), "seconds": 12.5}],
    }
    if label:
        manifest["label"] = label
    write_json_atomic(folder / MANIFEST, manifest)
    log = ResultsLog(folder / RESULTS)
    for r in results:
        log.append(r)
    if report:
        kar_report.write_report(folder)
    return folder


def results(mode: str = "kar") -> list[Result]:
    rows = []
    for run, base in ((1, 0.97), (2, 0.971)):
        rows.append(Result("pixels", mode, "baseline", 0, run, run - 1, base, 0.0, 9.0))
        rows.append(Result("conv", mode, "baseline", 0, run, run - 1, base + 0.01, 0.0, 1.0))
        for method, drop in (("normlime", 0.001), ("random", 0.02)):
            for threshold in (10, 50):
                acc = base - drop * threshold / 10
                rows.append(Result("pixels", mode, method, threshold, run, run - 1, acc, (base - acc) * 100, 9.0))
                rows.append(Result("conv", mode, method, threshold, run, run - 1, acc + 0.01, (base - acc) * 100, 1.0))
    return rows


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_the_page_is_for_staff_only(client, data_dir):
    response = client.get(reverse("kar:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    user = get_user_model().objects.create_user("participant", password="pw")
    client.force_login(user)
    assert client.get(reverse("kar:index")).status_code == 302


def test_without_runs_the_page_says_how_to_make_one(staff_client, data_dir):
    response = staff_client.get(reverse("kar:index"))
    assert response.status_code == 200
    assert "No KAR results yet" in response.content.decode()
    assert "manage.py run_kar" in response.content.decode()


def test_the_index_shows_the_newest_run_with_its_tables_and_figures(staff_client, data_dir):
    old = write_run(data_dir, "kar-old", results(), 18)
    past = time.time() - 3600
    for f in old.iterdir():
        os.utime(f, (past, past))
    write_run(data_dir, "kar-default", results(), 18)
    html = staff_client.get(reverse("kar:index")).content.decode()
    assert "<h2>kar-default" in html
    assert "KAR on input pixels (784)" in html and "KAR on conv features (1600)" in html
    # normlime at 50 %: runs lose 0.5 points each -> +0.50 ± 0.00; random at 10 %: +2.00 ± 0.00
    assert "+0.50 ± 0.00" in html and "+2.00 ± 0.00" in html
    assert "97.05 ± 0.07 %" in html  # the retrained pixel baseline, mean ± sd over the two runs
    assert "paper: 0.00" in html  # the paper's NormLIME pixels at 50 %
    assert reverse("kar:file", args=["kar-default", "fig5_pixels.png"]) in html
    assert reverse("kar:file", args=["kar-default", "fig6_conv.png"]) in html
    assert reverse("kar:detail", args=["kar-old"]) in html  # the other run is listed


def test_a_merged_run_names_the_folders_it_was_merged_from(staff_client, data_dir):
    folder = write_run(data_dir, "kar-paper", results(), 18)
    manifest = read_manifest(folder)
    manifest["merged"] = {
        "from": [
            {"folder": "/runs/conv", "feature_sets": ["conv"], "cells_done": 9},
            {"folder": "/runs/pixels", "feature_sets": ["pixels"], "cells_done": 9},
        ]
    }
    write_json_atomic(folder / MANIFEST, manifest)
    html = staff_client.get(reverse("kar:detail", args=["kar-paper"])).content.decode()
    assert "<dt>Merged from</dt><dd>conv: /runs/conv (9 cells) · pixels: /runs/pixels (9 cells)" in html


def test_a_kar_run_shows_a_verdict_on_each_of_the_papers_claims_and_a_roar_run_none(staff_client, data_dir):
    write_run(data_dir, "kar-default", results(), 18)
    html = staff_client.get(reverse("kar:detail", args=["kar-default"])).content.decode()
    # normlime loses exactly 0.5 points at 50 % of pixels in both runs: sd taken as one test image (0.01 pp of
    # 10,000), so the interval 0.5 +- 6.314 * 0.01 / sqrt(2) lies outside +-0.25
    assert "NormLIME&#x27;s error gain is about 0 when 50 % of the pixels are removed: not supported." in html
    assert html.count(": inconclusive.</strong>") == 2  # no conv cells at 30, 80 or 90 %
    # the rules once, each verdict's power and rule
    assert "Margin delta = 0.25 pp" in html and "Power: TOST at n = 2, sd 0.010" in html
    assert "Rule: TOST: supported if the 90 % t-interval" in html and "Power: no sd to measure." in html
    assert "With the confounds" not in html  # no variants in this run
    assert reverse("kar:file", args=["kar-default", "verdicts.json"]) in html
    markdown = staff_client.get(reverse("kar:file", args=["kar-default", "report.md"]))
    assert markdown["Content-Type"].startswith("text/markdown")
    assert b"**The paper's claims**" in b"".join(markdown.streaming_content)
    assert (
        staff_client.get(reverse("kar:file", args=["kar-default", "verdicts.json"]))["Content-Type"]
        == "application/json"
    )
    write_run(data_dir, "roar-default", results("roar"), 18, mode="roar")
    html = staff_client.get(reverse("kar:detail", args=["roar-default"])).content.decode()
    assert "The paper&#x27;s claims" not in html


def test_a_run_with_kars_variants_shows_the_claims_again_under_their_conventions(staff_client, data_dir):
    rows = results()
    for r in [r for r in rows if r.method == "normlime" and r.feature_set == "pixels"]:
        # NormLIME with standardised weights loses 0.1 points at 10 and 50 %: within the margin, supported
        rows.append(Result("pixels", "kar", "normlime_std", r.threshold, r.run, r.seed, r.accuracy, 0.1, 1.0))
    rows += [Result("pixels", "kar", "variance", r.threshold, r.run, r.seed, r.accuracy, 3.0, 1.0) for r in rows[4:8]]
    write_run(data_dir, "kar-variants", rows, len(rows))
    html = staff_client.get(reverse("kar:detail", args=["kar-variants"])).content.decode()
    assert "<h4>With the confounds</h4>" in html and '<th scope="col">NormLIME (std. weights)</th>' in html
    assert "<td>not supported</td><td>supported</td>" in html  # pixels at 50 %: the paper's convention, then std
    assert "Claims that change: pixels-50-zero." in html
    assert '<th scope="row">feature variance</th>' in html  # the variance ranking's cells are in the tables


def test_a_run_in_progress_shows_how_many_cells_are_done(staff_client, data_dir):
    write_run(data_dir, "kar-running", results()[:5], 18, report=False)
    html = staff_client.get(reverse("kar:detail", args=["kar-running"])).content.decode()
    assert "5 of 18 cells finished" in html
    assert "The figures are drawn when" in html


def test_figures_and_csv_files_are_served_and_nothing_else(staff_client, data_dir):
    folder = write_run(data_dir, "kar-default", results(), 18)
    (folder / "secret.txt").write_text("no")
    png = staff_client.get(reverse("kar:file", args=["kar-default", "fig5_pixels.png"]))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert b"".join(png.streaming_content)[:4] == b"\x89PNG"
    csv = staff_client.get(reverse("kar:file", args=["kar-default", "results.csv"]))
    assert csv["Content-Type"].startswith("text/csv") and b"feature_set,mode" in b"".join(csv.streaming_content)
    assert staff_client.get(reverse("kar:file", args=["kar-default", "secret.txt"])).status_code == 404
    assert staff_client.get(reverse("kar:detail", args=["no-such-run"])).status_code == 404
    assert staff_client.get("/kar/../secret/").status_code == 404
    assert staff_client.get("/analysis/kar/../secret/").status_code == 404


def test_the_old_addresses_under_analysis_redirect_to_the_kar_app(staff_client, data_dir):
    assert staff_client.get("/analysis/kar/").url == reverse("kar:index")
    assert staff_client.get("/analysis/kar/kar-default/results.csv").url == reverse(
        "kar:file", args=["kar-default", "results.csv"]
    )


def test_a_folder_that_is_not_a_kar_run_is_not_listed(staff_client, data_dir):
    (data_dir / "kar" / "notes").mkdir(parents=True)
    (data_dir / "kar" / "notes" / "manifest.json").write_text('{"kind": "something else"}')
    assert "No KAR results yet" in staff_client.get(reverse("kar:index")).content.decode()
    assert staff_client.get(reverse("kar:detail", args=["notes"])).status_code == 404


REFRESH = '<meta http-equiv="refresh"'


def test_a_running_run_shows_its_progress_and_reloads_until_it_ends(staff_client, data_dir):
    write_run(data_dir, kar_demo.NAME, results()[:5], 18, report=False, status="running", label=kar_demo.LABEL)
    html = staff_client.get(reverse("kar:index")).content.decode()
    assert "Running: 5 of 18 cells finished" in html and '<progress value="5" max="18">' in html
    assert f'{REFRESH} content="10">' in html
    assert escape(kar_demo.LABEL) in html  # labelled as the small demo run
    assert "The figures are drawn when" in html and "fig5_pixels.png" not in html


def test_a_run_that_has_not_finished_a_cell_yet_says_it_is_ranking(staff_client, data_dir):
    write_run(data_dir, "kar-starting", [], 18, report=False, status="running")
    html = staff_client.get(reverse("kar:index")).content.decode()
    assert "Running: 0 of 18 cells finished" in html and "ranking the features" in html


def test_a_finished_run_shows_its_figures_and_stops_reloading(staff_client, data_dir):
    write_run(data_dir, kar_demo.NAME, results(), len(results()), label=kar_demo.LABEL)
    html = staff_client.get(reverse("kar:index")).content.decode()
    assert f"Complete: {len(results())} cells." in html and REFRESH not in html
    assert reverse("kar:file", args=[kar_demo.NAME, "fig5_pixels.png"]) in html
    assert escape(kar_demo.LABEL) in html


def test_a_stopped_run_does_not_reload(staff_client, data_dir):
    write_run(data_dir, "kar-stopped", results()[:5], 18, report=False, status="interrupted")
    html = staff_client.get(reverse("kar:index")).content.decode()
    assert "5 of 18 cells finished" in html and "last session interrupted" in html and REFRESH not in html


def test_while_the_demo_run_loads_the_page_says_it_is_starting(staff_client, data_dir):
    import subprocess
    import sys

    folder = data_dir / "kar" / kar_demo.NAME
    folder.mkdir(parents=True)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "run_kar"])
    try:
        (folder / kar_demo.PID_FILE).write_text(str(process.pid))
        html = staff_client.get(reverse("kar:index")).content.decode()
        assert "small KAR run is starting" in html and REFRESH in html and "No KAR results yet" not in html
    finally:
        process.kill()
        process.wait()
    html = staff_client.get(reverse("kar:index")).content.decode()
    assert "No KAR results yet" in html and REFRESH not in html
