"""From the survey's tables to the analysis: the arrays of a hand-built study, the paper's rules, the numbers.

The study is answered through the survey's services by scripted participants (analysis.simulate's
``Plan``), so the arrays are checked against what each participant was told to choose.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.test import TestCase
from scipy import stats as sp_stats

from analysis import simulate
from analysis.study import (
    DID_NOT_FINISH,
    NothingToAnalyse,
    ParticipantInfo,
    StudyArrays,
    UnknownKind,
    analyze_study,
    build_report,
    included_kinds,
    load_study_arrays,
    parse_kinds,
)
from explainers.models import ExplanationSet
from survey import export
from survey.models import Item, Participant
from survey.services import import_csv
from survey.testing import long_csv, make_explanation_set, make_study

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
NORMLIME, LIME, SMOOTHGRAD, VARGRAD = range(4)


def votes(n_normlime: int, n_lime: int, n_smoothgrad: int, n_vargrad: int) -> tuple[int, ...]:
    """Votes for real items 1..20 in item order: the normlime ones first, then lime, ..."""
    return (NORMLIME,) * n_normlime + (LIME,) * n_lime + (SMOOTHGRAD,) * n_smoothgrad + (VARGRAD,) * n_vargrad


def plan(vote_list, checks_right, answered: int = 25) -> simulate.Plan:
    return simulate.Plan(
        careless=False,
        votes=tuple(vote_list),
        checks_right=tuple(checks_right),
        wrong_picks=(0,) * 5,
        seconds=(5.0,) * answered,
    )


def as_real(study) -> None:
    """The simulated participants of ``study`` stand in for real people (only real ones count by default)."""
    Participant.objects.filter(study=study).update(kind=Participant.Kind.REAL)


def build_tiny_study(slug: str = "tiny"):
    """P1 5/5 checks, votes 10/5/3/2; P2 4/5 (misses the first check), 8/6/4/2; P3 2/5, all LIME; P4 stops after 3."""
    study = make_study(make_explanation_set(), slug=slug)
    layout = simulate.study_layout(study)
    people = [
        plan(votes(10, 5, 3, 2), [True] * 5),
        plan(votes(8, 6, 4, 2), [False, True, True, True, True]),
        plan(votes(0, 20, 0, 0), [True, True, False, False, False]),
        plan(votes(20, 0, 0, 0), [True] * 5, answered=3),
    ]
    made = [
        simulate.simulate_participant(study, p, T0 + timedelta(minutes=10 * i), layout) for i, p in enumerate(people)
    ]
    as_real(study)
    return study, made


class TestATinyStudyAnsweredThroughTheServices(TestCase):
    """Built once for the class (setUpTestData): four participants whose every answer is known."""

    @classmethod
    def setUpTestData(cls):
        cls.study, cls.people = build_tiny_study()
        cls.data = load_study_arrays(cls.study)
        cls.report = analyze_study(cls.study, n_boot=200)

    def test_the_arrays_hold_each_participants_checks_and_votes_in_item_order(self):
        data = self.data
        assert [p.public_id for p in data.participants] == [str(p.public_id) for p in self.people]
        assert data.real_items == tuple(range(1, 21)) and data.check_items == tuple(range(21, 26))
        assert data.correct.shape == (4, 5) and data.choices.shape == (4, 20)
        np.testing.assert_array_equal(data.choices[0], votes(10, 5, 3, 2))
        np.testing.assert_array_equal(data.choices[1], votes(8, 6, 4, 2))
        np.testing.assert_array_equal(data.correct[:3], [[1, 1, 1, 1, 1], [0, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
        assert [p.status for p in data.participants] == ["finished"] * 3 + ["started"]
        assert [p.answered for p in data.participants] == [25, 25, 25, 3]

    def test_check_columns_follow_item_numbers_not_the_order_shown(self):
        numbers = (
            Item.objects.filter(study=self.study, kind="attention").order_by("number").values_list("number", flat=True)
        )
        assert self.data.check_items == tuple(numbers)

    def test_an_unfinished_participant_has_blanks_where_they_did_not_answer(self):
        data = self.data
        seen = (data.choices[3] != -1).sum() + (~np.isnan(data.correct[3])).sum()
        assert seen == 3
        assert set(data.choices[3][data.choices[3] != -1]) <= {NORMLIME}

    def test_the_filter_agrees_with_what_the_survey_recorded_at_finish(self):
        kept_ids = {self.data.participants[i].public_id for i in self.report.kept}
        passed = Participant.objects.filter(study=self.study, passed=True).values_list("public_id", flat=True)
        assert kept_ids == {str(p) for p in passed}

    def test_the_report_keeps_two_excludes_two_and_says_why(self):
        report = self.report
        assert (report.n_started, report.n_finished, report.n_kept) == (4, 3, 2)
        assert [(e.participant, e.reason) for e in report.exclusions] == [
            (str(self.people[2].public_id), "passed 2 of 5 attention checks (needs 4)"),
            (str(self.people[3].public_id), f"{DID_NOT_FINISH} (answered 3 of 25 questions)"),
        ]
        assert report.exclusion_summary() == [(DID_NOT_FINISH, 1), ("passed 2 of 5 attention checks (needs 4)", 1)]

    def test_the_numbers_of_the_tiny_study_match_the_ones_worked_out_by_hand(self):
        a = self.report.analysis
        np.testing.assert_array_equal(a.tally.totals, [18, 11, 7, 4])
        np.testing.assert_allclose(a.tally.shares, [[0.5, 0.25, 0.15, 0.1], [0.4, 0.3, 0.2, 0.1]])
        # Group means .45 .275 .175 .1 around .25: SSB = 2(.04 + .000625 + .005625 + .0225) = .1375;
        # SSW = 2(.05^2) + 2(.025^2) + 2(.025^2) + 0 = .0075; F = (.1375/3) / (.0075/4) = 24.444...
        assert (a.anova.df_between, a.anova.df_within) == (3, 4)
        assert a.anova.F == pytest.approx(0.1375 / 3 / (0.0075 / 4), rel=1e-12)
        assert a.anova.eta_squared == pytest.approx(0.1375 / 0.145, rel=1e-12)
        # Both kept participants rank the methods 4 > 3 > 2 > 1: chi2 = 12/(4*2*5) * (64+36+16+4) - 3*2*5 = 6, W = 1.
        assert a.friedman.chi2 == pytest.approx(6.0) and a.friedman.kendalls_w == pytest.approx(1.0)
        assert a.friedman.p == pytest.approx(sp_stats.chi2.sf(6.0, 3))
        # Totals against 10 each: (64 + 1 + 9 + 36) / 10 = 11.
        assert a.chi_square.chi2 == pytest.approx(11.0)

    def test_min_checks_can_be_lowered_to_keep_more_participants(self):
        report = build_report(self.data, 2, n_boot=50)
        assert report.n_kept == 3 and report.analysis.tally.totals.tolist() == [18, 31, 7, 4]

    def test_every_participant_is_real_and_none_is_left_out(self):
        assert [p.kind for p in self.data.participants] == ["real"] * 4
        assert (self.data.kinds, self.data.left_out) == (("real",), {})
        assert self.report.kept_by_kind() == {"real": 2}

    def _make_p1_pilot_and_p2_simulated(self):
        Participant.objects.filter(pk=self.people[0].pk).update(kind=Participant.Kind.PILOT)
        Participant.objects.filter(pk=self.people[1].pk).update(kind=Participant.Kind.SIMULATED)

    def test_only_real_participants_are_read_unless_other_kinds_are_included(self):
        self._make_p1_pilot_and_p2_simulated()
        ids = [str(p.public_id) for p in self.people]
        real = load_study_arrays(self.study)
        assert [p.public_id for p in real.participants] == ids[2:]
        assert (real.kinds, real.left_out) == (("real",), {"pilot": 1, "simulated": 1})
        assert real.choices.shape == (2, 20) and real.correct.shape == (2, 5)
        np.testing.assert_array_equal(real.choices[0], votes(0, 20, 0, 0))  # P3's votes, not P1's
        with_pilot = load_study_arrays(self.study, ["pilot"])
        assert [p.public_id for p in with_pilot.participants] == [ids[0], *ids[2:]]
        assert (with_pilot.kinds, with_pilot.left_out) == (("real", "pilot"), {"simulated": 1})
        everyone = load_study_arrays(self.study, ["simulated", "pilot"])
        assert [p.kind for p in everyone.participants] == ["pilot", "simulated", "real", "real"]
        assert (everyone.kinds, everyone.left_out) == (("real", "pilot", "simulated"), {})

    def test_the_report_of_included_kinds_counts_its_kept_participants_by_kind(self):
        self._make_p1_pilot_and_p2_simulated()
        report = analyze_study(self.study, n_boot=50, include=["pilot", "simulated"])
        assert report.n_kept == 2 and report.kept_by_kind() == {"real": 0, "pilot": 1, "simulated": 1}
        np.testing.assert_array_equal(report.analysis.tally.totals, [18, 11, 7, 4])

    def test_nothing_to_analyse_says_which_kinds_were_left_out(self):
        self._make_p1_pilot_and_p2_simulated()
        # P3 fails the checks and P4 did not finish: without P1 and P2 nobody is kept.
        with pytest.raises(NothingToAnalyse, match=r"\(1 finished, 2 started; left out: 1 pilot, 1 simulated\)$"):
            analyze_study(self.study, n_boot=50)

    def test_an_impossible_min_checks_is_refused_in_one_line(self):
        with pytest.raises(NothingToAnalyse, match=r"--min-checks 6: use 0 to 5"):
            build_report(self.data, 6)


@pytest.fixture
def study():
    return make_study(make_explanation_set(), slug="tiny")


def test_a_study_without_finished_participants_has_nothing_to_analyse(study):
    simulate.simulate_participant(study, plan(votes(20, 0, 0, 0), [True] * 5, answered=4), T0)
    as_real(study)
    with pytest.raises(NothingToAnalyse, match=r"no finished participants yet \(1 started\)$"):
        analyze_study(study)


def test_a_study_of_simulated_participants_only_has_nothing_to_analyse_and_says_they_were_left_out(study):
    simulate.simulate_participant(study, plan(votes(20, 0, 0, 0), [True] * 5), T0)
    with pytest.raises(NothingToAnalyse, match=r"no finished participants yet \(0 started; left out: 1 simulated\)$"):
        analyze_study(study)


def test_a_study_with_one_kept_participant_has_nothing_to_analyse(study):
    layout = simulate.study_layout(study)
    simulate.simulate_participant(study, plan(votes(20, 0, 0, 0), [True] * 5), T0, layout)
    simulate.simulate_participant(study, plan(votes(20, 0, 0, 0), [False] * 5), T0 + timedelta(hours=1), layout)
    as_real(study)
    with pytest.raises(NothingToAnalyse, match=r"only 1 of 2 participants passed"):
        analyze_study(study)


def test_the_kinds_that_count_are_real_and_those_included_in_the_models_order():
    assert parse_kinds("") == parse_kinds(None) == parse_kinds("real") == ("real",)
    assert parse_kinds(" Simulated , pilot,") == ("real", "pilot", "simulated")
    assert included_kinds(["simulated"]) == ("real", "simulated")


def test_an_unknown_kind_is_refused_in_one_line_naming_it():
    with pytest.raises(UnknownKind) as caught:
        parse_kinds("pilot,robot")
    assert (
        str(caught.value) == "unknown participant kind 'robot' (use pilot, simulated; real participants always count)"
    )


def _arrays(correct, choices, statuses=None) -> StudyArrays:
    n = len(correct)
    statuses = statuses or ["finished"] * n
    people = tuple(ParticipantInfo(i + 1, f"p{i + 1}", "direct", s, 25) for i, s in enumerate(statuses))
    return StudyArrays(
        slug="hand",
        name="Hand",
        n_real=len(choices[0]),
        n_checks=len(correct[0]),
        pass_threshold=4,
        participants=people,
        real_items=tuple(range(1, len(choices[0]) + 1)),
        check_items=tuple(range(21, 21 + len(correct[0]))),
        correct=np.array(correct, dtype=float),
        choices=np.array(choices),
    )


def test_build_report_uses_the_studys_threshold_unless_told_otherwise():
    data = _arrays([[1, 1, 1, 0, 0]] * 2 + [[1, 1, 1, 1, 0]] * 2, [votes(10, 5, 3, 2)] * 2 + [votes(8, 6, 4, 2)] * 2)
    assert build_report(data, n_boot=50).n_kept == 2
    assert build_report(data, 3, n_boot=50).n_kept == 4


def test_the_same_data_and_seed_give_the_same_bootstrap_intervals():
    data = _arrays([[1] * 5] * 3, [votes(10, 5, 3, 2), votes(8, 6, 4, 2), votes(12, 4, 2, 2)])
    one, two = build_report(data, n_boot=300, seed=7), build_report(data, n_boot=300, seed=7)
    assert one.analysis.bootstrap.lower == two.analysis.bootstrap.lower
    assert all(
        lo <= pt <= hi
        for lo, pt, hi in zip(one.analysis.bootstrap.lower, one.analysis.bootstrap.point, one.analysis.bootstrap.upper)
    )
    assert not math.isnan(one.analysis.anova.F)


# --- studies imported from a file (survey.services.imports) ---------------------------------------


def paper_cohort(seed: int = 0) -> list[dict]:
    """83 kept participants whose 1,660 votes are exactly the paper's, 12 who fail the checks, 2 who stop."""
    rng = np.random.default_rng(seed)
    pool = np.array([NORMLIME] * 939 + [LIME] * 438 + [VARGRAD] * 151 + [SMOOTHGRAD] * 132)
    rng.shuffle(pool)
    people = []
    for k in range(83):
        checks = [True] * 5
        if k % 3 == 0:
            checks[k % 5] = False  # a third of the kept slip once: 4 of 5 still counts
        people.append({"votes": pool[20 * k : 20 * k + 20].tolist(), "checks": checks})
    for k in range(12):
        right = k % 4  # 0-3 checks right: excluded
        people.append({"votes": rng.integers(0, 4, 20).tolist(), "checks": [True] * right + [False] * (5 - right)})
    people.append({"votes": [NORMLIME] * 20, "checks": [True] * 5, "answered": 7})
    people.append({"votes": [LIME] * 20, "checks": [True] * 5, "answered": 24})
    return people


def test_a_cohort_shaped_like_the_papers_imported_from_a_file_gives_back_the_papers_numbers():
    """The paper's 83 kept surveys x 20 votes = 939 / 438 / 151 / 132, with F df (3, 328), p < 1e-50
    and Tukey separating NormLIME from every other method."""
    study = make_study(make_explanation_set(), slug="copy")
    result = import_csv(study, io.StringIO(long_csv(study, paper_cohort())))
    assert (result.participants, result.finished, result.answers) == (97, 95, 95 * 25 + 7 + 24)
    report = analyze_study(study, n_boot=500)
    a = report.analysis
    assert (report.n_kept, len(report.exclusions)) == (83, 14)
    assert dict(zip(a.methods, a.tally.totals.tolist())) == {
        "normlime": 939,
        "lime": 438,
        "vargrad": 151,
        "smoothgrad": 132,
    }
    assert report.n_votes == 1660 == 83 * 20
    assert (a.anova.df_between, a.anova.df_within) == (3, 328)
    assert a.anova.p < 1e-50
    assert all(a.tukey.row("normlime", other).reject for other in ("lime", "smoothgrad", "vargrad"))
    assert all(
        a.tukey.row("normlime", other).meandiff < 0 for other in ("lime", "smoothgrad", "vargrad")
    )  # NormLIME larger
    assert dict(report.exclusion_summary())[DID_NOT_FINISH] == 2


def test_a_study_exported_and_imported_elsewhere_gives_the_same_analysis():
    source, _ = build_tiny_study("source")
    out = io.StringIO()
    export.write_csv(source, out)
    target = make_study(ExplanationSet.objects.get(), slug="copy")
    import_csv(target, io.StringIO(out.getvalue()))
    before, after = analyze_study(source, n_boot=300), analyze_study(target, n_boot=300)
    assert after.analysis.to_dict() == before.analysis.to_dict()
    assert [e.reason for e in after.exclusions] == [e.reason for e in before.exclusions]
