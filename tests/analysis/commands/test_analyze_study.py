"""manage.py analyze_study: prints the report, writes its files, refuses what it cannot analyse in one line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from analysis import simulate
from survey.models import Participant
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


def take_part(study, kind: str, the_plan: simulate.Plan, minutes: int) -> Participant:
    """A participant of ``kind`` who answers as ``the_plan`` says (simulate_participant makes a simulated one)."""
    participant = simulate.simulate_participant(study, the_plan, T0 + timedelta(minutes=minutes))
    Participant.objects.filter(pk=participant.pk).update(kind=kind)
    return participant


@pytest.fixture
def answered(study):
    """Real participants. Kept: 10/5/3/2 and 8/6/4/2 votes; excluded: one who passed 3 of 5 checks."""
    for i, p in enumerate([plan(10, 5, 3, 2, 5), plan(8, 6, 4, 2, 4), plan(0, 0, 20, 0, 3)]):
        take_part(study, Participant.Kind.REAL, p, i)
    return study


@pytest.fixture
def with_others(answered):
    """Besides the three real ones: a pilot who votes LIME 20 times, two simulated who vote VarGrad; all pass."""
    take_part(answered, Participant.Kind.PILOT, plan(0, 20, 0, 0, 5), 10)
    for i in range(2):
        take_part(answered, Participant.Kind.SIMULATED, plan(0, 0, 0, 20, 5), 20 + i)
    return answered


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


def test_only_real_participants_count_by_default_and_the_report_says_who_was_left_out(with_others, tmp_path):
    output = run("pilot", "--out", str(tmp_path), "--n-boot", "50")
    assert "Surveys: 3 started, 3 finished. Kept 2 that passed at least 4 of 5 attention checks; excluded 1:" in output
    assert "  Counted: real participants only.\n" in output
    assert "  Left out: 1 pilot, 2 simulated participants (use --include to count them).\n" in output
    assert "  NormLIME         18   45.0%" in output  # the real votes only: 18 / 11 / 7 / 4
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["parameters"]["include"] == ["real"] and doc["participants"]["left_out"] == {"pilot": 1, "simulated": 2}


def test_include_counts_the_kinds_it_names(with_others, tmp_path):
    output = run("pilot", "--include", "pilot,simulated", "--out", str(tmp_path), "--n-boot", "50")
    assert "Surveys: 6 started, 6 finished. Kept 5 that passed at least 4 of 5 attention checks; excluded 1:" in output
    assert "  Counted: real, pilot, simulated participants (kept: 2 real, 1 pilot, 2 simulated).\n" in output
    assert "Left out" not in output
    # VarGrad: 2 + 2 of the real ones and 20 from each simulated participant = 44 of 100 votes
    assert "  VarGrad          44   44.0%" in output
    votes = list(csv.DictReader((tmp_path / "votes.csv").open()))
    assert [r["participant_kind"] for r in votes] == ["real"] * 3 + ["pilot"] + ["simulated"] * 2
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["participants"]["kinds_included"] == ["real", "pilot", "simulated"]
    assert doc["participants"]["kept_by_kind"] == {"real": 2, "pilot": 1, "simulated": 2}


def test_include_of_one_kind_leaves_the_other_out(with_others, tmp_path):
    output = run("pilot", "--include", "simulated", "--out", str(tmp_path), "--n-boot", "50")
    assert "Kept 4 that passed" in output
    assert "  Counted: real, simulated participants (kept: 2 real, 2 simulated).\n" in output
    assert "  Left out: 1 pilot participant (use --include to count them).\n" in output


def test_an_unknown_kind_is_a_one_line_error_naming_it(with_others, tmp_path):
    with pytest.raises(CommandError) as excinfo:
        run("pilot", "--include", "pilot,robot", "--out", str(tmp_path / "x"))
    assert str(excinfo.value) == (
        "--include pilot,robot: unknown participant kind 'robot' (use pilot, simulated; real participants always count)"
    )
    assert not (tmp_path / "x").exists()


def test_a_study_of_simulated_participants_only_says_they_were_left_out(study, tmp_path):
    simulate.simulate_participant(study, plan(20, 0, 0, 0, 5), T0)
    with pytest.raises(
        CommandError,
        match=r"^study pilot: nothing to analyse: no finished participants yet \(0 started; left out: 1 simulated\)$",
    ):
        run("pilot", "--out", str(tmp_path / "x"))


def test_a_study_without_kept_participants_is_a_one_line_error(study, tmp_path):
    take_part(study, Participant.Kind.REAL, plan(20, 0, 0, 0, 1), 0)
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
