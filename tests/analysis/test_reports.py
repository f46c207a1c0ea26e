"""The study report's text, files and figures, on five hand-written participants (no database).

Kept: P1 10/5/3/2, P2 8/6/4/2, P3 12/4/2/2 votes (normlime/lime/smoothgrad/vargrad of 20);
P4 passed 2 of 5 checks; P5 did not finish. Worked out by hand:
  shares' means .5 .25 .15 .1 around .25 -> SSB = 3(.0625 + 0 + .01 + .0225) = .285;
  SSW = (.1^2 + .1^2) + (.05^2 + .05^2) + (.05^2 + .05^2) + 0 = .03; df (3, 8);
  F = (.285/3) / (.03/8) = 25.333; eta^2 = .285/.315 = .9048; omega^2 = (.285 - 3*.00375)/(.315 + .00375) = .8588;
  Friedman: rank sums 12, 9, 5.5, 3.5 (P3 ties smoothgrad and vargrad) -> 0.2 * 267.5 - 45 = 8.5,
  tie-corrected 8.5 / (1 - 6/180) = 8.7931, W = 8.7931 / 9 = .97701;
  totals 30/15/9/6 of 60 against 15 each: chi^2 = (225 + 0 + 36 + 81)/15 = 22.8.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from analysis import reports
from analysis.study import ParticipantInfo, StudyArrays, build_report

NORMLIME, LIME, SMOOTHGRAD, VARGRAD = range(4)


def votes(a: int, b: int, c: int, d: int) -> list[int]:
    return [NORMLIME] * a + [LIME] * b + [SMOOTHGRAD] * c + [VARGRAD] * d


def hand_data(**kinds) -> StudyArrays:
    """Five participants: p1 simulated, the others real; ``kinds`` as in :class:`StudyArrays` (real and simulated)."""
    statuses = ["finished"] * 4 + ["started"]
    people = tuple(
        ParticipantInfo(
            pk=i + 1,
            public_id=f"p{i + 1}",
            platform="direct",
            status=s,
            answered=25 if s == "finished" else 2,
            kind="simulated" if i == 0 else "real",
        )
        for i, s in enumerate(statuses)
    )
    nan = np.nan
    correct = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, nan, nan, nan, nan]])
    unfinished = [-1] * 20
    unfinished[0] = LIME
    choices = np.array([votes(10, 5, 3, 2), votes(8, 6, 4, 2), votes(12, 4, 2, 2), votes(0, 20, 0, 0), unfinished])
    return StudyArrays(
        slug="hand",
        name="Hand study",
        n_real=20,
        n_checks=5,
        pass_threshold=4,
        participants=people,
        real_items=tuple(range(1, 21)),
        check_items=tuple(range(21, 26)),
        correct=correct,
        choices=choices,
        **({"kinds": ("real", "simulated"), "left_out": {"pilot": 3}} | kinds),
    )


@pytest.fixture(scope="module")
def report():
    return build_report(hand_data(), n_boot=500, seed=3)


def test_the_text_names_kept_and_excluded_surveys_with_reasons(report):
    text = reports.text_report(report)
    assert "Surveys: 5 started, 4 finished. Kept 3 that passed at least 4 of 5 attention checks; excluded 2:" in text
    assert "      1  did not finish the survey\n      1  passed 2 of 5 attention checks (needs 4)\n" in text
    assert (
        "  Counted: real, simulated participants (kept: 2 real, 1 simulated).\n"
        "  Left out: 3 pilot participants (use --include to count them).\n"
    ) in text


def test_the_text_of_real_participants_only_says_so_and_names_those_left_out_by_kind():
    report = build_report(hand_data(kinds=("real",), left_out={"pilot": 3, "simulated": 40}), n_boot=50)
    text = reports.text_report(report)
    assert "  Counted: real participants only.\n" in text
    assert "  Left out: 3 pilot, 40 simulated participants (use --include to count them).\n" in text
    assert reports.kinds_lines(report, "tick them") == [
        "Counted: real participants only.",
        "Left out: 3 pilot, 40 simulated participants (tick them).",
    ]


def test_nothing_left_out_gives_no_left_out_line():
    report = build_report(hand_data(left_out={}), n_boot=50)
    assert reports.kinds_lines(report) == ["Counted: real, simulated participants (kept: 2 real, 1 simulated)."]


def test_the_text_gives_votes_shares_and_the_papers_numbers(report):
    text = reports.text_report(report)
    assert "(3 surveys x 20 questions = 60 votes)" in text
    assert "  NormLIME         30   50.0%" in text and "939 (56.6%)" in text
    assert "  VarGrad           6   10.0%" in text and "151 (9.1%)" in text


def test_the_text_gives_the_anova_worked_out_by_hand(report):
    text = reports.text_report(report)
    assert "F(3, 8) = 25.3, p = " in text and "(paper: F(3, 328) = 338, p = 5.22e-100)" in text
    assert "η² = 0.905, ω² = 0.859" in text
    assert report.analysis.anova.F == pytest.approx(0.285 / 3 / (0.03 / 8), rel=1e-12)
    assert report.analysis.anova.omega_squared == pytest.approx((0.285 - 3 * 0.00375) / (0.315 + 0.00375), rel=1e-12)


def test_the_text_gives_the_design_respecting_tests_worked_out_by_hand(report):
    text = reports.text_report(report)
    assert report.analysis.friedman.chi2 == pytest.approx(8.5 / (1 - 6 / 180), rel=1e-12)
    assert "Friedman test: χ²(3) = 8.8" in text and "Kendall's W = 0.977" in text
    assert "χ²(3) = 22.8" in text and "votes cluster within participants" in text
    assert "Hotelling's T² on 3 within-participant contrasts" in text
    assert "Paired Wilcoxon signed-rank tests, Holm-corrected" in text and "normlime − lime" in text


def test_the_tukey_table_is_printed_with_honest_p_values(report):
    text = reports.text_report(report)
    row = report.analysis.tukey.row("normlime", "lime")
    assert row.meandiff == pytest.approx(-0.25)
    assert f"    normlime     lime           -0.2500 {row.p_adj_text:>10}" in text


def test_votes_csv_has_every_participant_with_counts_shares_and_reason(report):
    out = io.StringIO()
    assert reports.write_votes_csv(report, out) == 5
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["participant"] for r in rows] == ["p1", "p2", "p3", "p4", "p5"]
    assert [r["kept"] for r in rows] == ["true", "true", "true", "false", "false"]
    assert [r["participant_kind"] for r in rows] == ["simulated", "real", "real", "real", "real"]
    assert list(rows[0])[:4] == ["participant", "platform", "participant_kind", "status"]
    p1 = rows[0]
    assert (p1["votes_normlime"], p1["votes_lime"], p1["votes_smoothgrad"], p1["votes_vargrad"]) == (
        "10",
        "5",
        "3",
        "2",
    )
    assert float(p1["share_normlime"]) == 0.5 and float(p1["share_vargrad"]) == 0.1
    assert rows[3]["excluded_reason"] == "passed 2 of 5 attention checks (needs 4)" and rows[3]["checks_correct"] == "2"
    assert rows[4]["status"] == "started" and rows[4]["checks_answered"] == "1" and rows[4]["real_answered"] == "1"
    assert rows[4]["excluded_reason"].startswith("did not finish the survey")


def test_tukey_csv_matches_the_analysis_row_for_row(report):
    out = io.StringIO()
    assert reports.write_tukey_csv(report, out) == 6
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["group1"], r["group2"]) for r in rows][:3] == [
        ("normlime", "lime"),
        ("normlime", "smoothgrad"),
        ("normlime", "vargrad"),
    ]
    for r, expected in zip(rows, report.analysis.tukey.rows):
        assert float(r["meandiff"]) == expected.meandiff and float(r["lower"]) == expected.lower
        assert r["reject"] == ("true" if expected.reject else "false")


def test_report_json_is_strict_json_with_the_parameters_and_every_result(report):
    out = io.StringIO()
    reports.write_report_json(report, out)
    doc = json.loads(out.getvalue())
    assert doc["kind"] == "normlime-study-analysis"
    assert doc["parameters"] == {
        "min_checks": 4,
        "include": ["real", "simulated"],
        "n_boot": 500,
        "seed": 3,
        "alpha": 0.05,
    }
    assert doc["participants"]["kinds_included"] == ["real", "simulated"]
    assert doc["participants"]["kept_by_kind"] == {"real": 2, "simulated": 1}
    assert doc["participants"]["left_out"] == {"pilot": 3}
    assert doc["participants"]["kept_ids"] == ["p1", "p2", "p3"]
    assert doc["participants"]["exclusion_summary"] == {
        "did not finish the survey": 1,
        "passed 2 of 5 attention checks (needs 4)": 1,
    }
    assert [v["votes"] for v in doc["votes"]] == [30, 15, 9, 6]
    assert doc["analysis"]["anova"]["df_within"] == 8 and doc["analysis"]["chi_square"]["chi2"] == pytest.approx(22.8)
    assert set(doc["software"]) >= {"numpy", "scipy", "statsmodels"}


def test_write_report_files_writes_the_three_tables_and_two_png_figures(report, tmp_path):
    out = tmp_path / "new" / "folder"
    written = reports.write_report_files(report, out)
    assert (
        sorted(p.name for p in written)
        == sorted(p.name for p in out.iterdir())
        == sorted(["report.json", "votes.csv", "tukey.csv", "shares.png", "tukey.png"])
    )
    assert json.loads((out / "report.json").read_text())["study"]["slug"] == "hand"
    for name in ("shares.png", "tukey.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_an_unknown_figure_is_a_key_error(report):
    with pytest.raises(KeyError):
        reports.figure_png(report, "pie")
