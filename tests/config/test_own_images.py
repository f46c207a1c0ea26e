"""docs/own-images.md, run as written: an image folder of three named RGB classes at 32 x 32
through train_model, generate_explanations, import_maps, create_study, simulated participants,
export_responses, analyze_study and run_kar.

The page's commands run unchanged in a sandbox checkout on a fresh SQLite database and data
folder, except ``SHRINK``: fewer images, epochs and samples, so the suite stays quick. Then the
test checks what the page promises: the set's classes and shape, the study's class names and
question count, the export's class names, the analysis, and the KAR features' counts.
"""

from __future__ import annotations

import csv
import json

import pytest

from tests.config.tutorials import ROOT, clean_env, console_commands, run_script, sandbox, shrunk

PAGE = ROOT / "docs" / "own-images.md"
#: Flags appended to (or replacing) the page's heavy settings; the rest of each line runs as written.
SHRINK = {
    "example_images": "--per-class 10",
    "train_model": "--epochs 1",
    "generate_explanations": "--per-class 2 --num-samples 60 --images-per-class 1",
    "simulate_responses": "--participants 4",
    "run_kar": "--runs 1 --epochs 1 --per-class 2 --lime-samples 60 --noise-samples 2 --feature-sets pixels,conv",
}

pytestmark = pytest.mark.slow


def test_the_own_images_page_runs_from_the_folder_to_kar(tmp_path):
    import sqlite3

    commands = [shrunk(c, SHRINK) for c in console_commands(PAGE.read_text(encoding="utf-8"))]
    assert any("import_maps" in c for c in commands) and any("run_kar" in c for c in commands)
    work = sandbox(tmp_path)
    data_dir = tmp_path / "data"
    env = clean_env()
    env["NORMLIME_DATA_DIR"] = str(data_dir)
    run_script(commands, work, env, tmp_path / "env")

    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        layouts = dict(db.execute("SELECT name, layout FROM explainers_explanationset").fetchall())
        study = db.execute(
            "SELECT n_real_questions, question_prompt FROM survey_study WHERE slug = 'shapes-study'"
        ).fetchone()
    for name in ("shapes", "my-maps"):
        layout = json.loads(layouts[name])
        assert layout["classes"] == ["circle", "square", "triangle"] and layout["shape"] == [3, 32, 32]
    assert study[0] == 24 and study[1].endswith("from the other {others} classes.")

    with open(work / "shapes-study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["class_name"] for r in rows} == {"circle", "square", "triangle"}
    assert {(r["digit"], r["class_name"]) for r in rows} <= {("0", "circle"), ("1", "square"), ("2", "triangle")}
    report = json.loads((work / "shapes-study-analysis" / "report.json").read_text())
    assert report["participants"]["kinds_included"] == ["real", "simulated"]

    kar = data_dir / "kar" / "shapes" if not (work / "var").exists() else work / "var" / "kar" / "shapes"
    manifest = json.loads((kar / "manifest.json").read_text())
    assert manifest["feature_spaces"]["pixels"]["features"] == 3 * 32 * 32
    assert manifest["feature_spaces"]["conv"]["features"] == 64 * 6 * 6
    with open(kar / "results.csv", newline="") as f:
        cells = list(csv.DictReader(f))
    assert {c["feature_set"] for c in cells} == {"pixels", "conv"}
