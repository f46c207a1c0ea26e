"""manage.py analyze_study: prints the report, writes its files, refuses what it cannot analyse in one line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from analysis import simulate
from survey.testing import make_explanation_set, make_study

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def plan(n_normlime: int, n_lime: int, n_smoothgrad: int, n_vargrad: int, checks_right: int) -> simulate.Plan:
    vote_list = (0,) * n_normlime + (1,) * n_lime + (2,) * n_smoothgrad + (3,) * n_vargrad
    return simulate.Plan(
        careless=False,
        votes=vote_list,
        checks_right=(True,) * checks_right + (False,) * (5 - checks_right),
        wrong_picks=(1,) * 5,
        seconds=(4.0,) * 25,
    )


@pytest.fixture
def study():
    return make_study(make_explanation_set(), slug="pilot")


@pytest.fixture
def answered(study):
    """Kept: 10/5/3/2 and 8/6/4/2 votes; excluded: one who passed 3 of 5 checks."""
    layout = simulate.study_layout(study)
    for i, p in enumerate([plan(10, 5, 3, 2, 5), plan(8, 6, 4, 2, 4), plan(0, 0, 20, 0, 3)]):
        simulate.simulate_participant(study, p, T0 + timedelta(minutes=i), layout)
    return study


def run(*args) -> str:
    out = io.StringIO()
    call_command("analyze_study", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_report_and_writes_its_files_where_asked(answered, tmp_path):
    output = run("pilot", "--out", str(tmp_path / "out"), "--n-boot", "200", "--seed", "5")
    assert "Surveys: 3 started, 3 finished. Kept 2 that passed at least 4 of 5 attention checks; excluded 1:" in output
    assert "      1  passed 3 of 5 attention checks (needs 4)" in output
    assert "  NormLIME         18   45.0%" in output and "(2 surveys x 20 questions = 40 votes)" in output
    assert "F(3, 4) = 24.4, p = " in output  # (.1375/3) / (.0075/4), see test_study
    assert "Friedman test: χ²(3) = 6.0" in output
    assert output.rstrip().endswith(
        f"Wrote report.json, votes.csv, tukey.csv, shares.png, tukey.png to {tmp_path / 'out'}"
    )
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["parameters"]["seed"] == 5 and doc["parameters"]["n_boot"] == 200
    votes = list(csv.DictReader((tmp_path / "out" / "votes.csv").open()))
    assert [r["kept"] for r in votes] == ["true", "true", "false"]


def test_min_checks_changes_who_is_kept(answered, tmp_path):
    output = run("pilot", "--min-checks", "3", "--out", str(tmp_path), "--n-boot", "50")
    assert "Kept 3 that passed at least 3 of 5 attention checks; excluded 0." in output


def test_the_default_folder_is_under_the_data_dir(answered, tmp_path, settings):
    settings.DATA_DIR = tmp_path
    run("pilot", "--n-boot", "50")
    assert (tmp_path / "analysis" / "pilot" / "tukey.csv").is_file()


def test_an_unknown_study_is_a_one_line_error():
    with pytest.raises(CommandError, match=r"^no study with slug 'nope'"):
        run("nope")


def test_a_study_without_kept_participants_is_a_one_line_error(study, tmp_path):
    simulate.simulate_participant(study, plan(20, 0, 0, 0, 1), T0)
    with pytest.raises(CommandError) as excinfo:
        run("pilot", "--out", str(tmp_path / "x"))
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("study pilot: nothing to analyse: no participants kept: 0 of 1 passed at least 4 of 5")
    assert not (tmp_path / "x").exists()


def test_min_checks_above_the_number_of_checks_is_refused(study):
    with pytest.raises(CommandError, match=r"--min-checks 6: use 0 to 5"):
        run("pilot", "--min-checks", "6")


def test_an_out_path_that_is_a_file_is_refused(study, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CommandError, match="is a file, not a folder"):
        run("pilot", "--out", str(tmp_path / "file"))
