"""simulate_responses and simulate_study: synthetic participants who take the survey through its services."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analysis import simulate
from analysis.study import load_study_arrays
from survey import services
from survey.models import Answer, Participant, SheetEntry, Study
from survey.testing import make_explanation_set, make_study

pytestmark = pytest.mark.django_db

SIMULATED = [Participant.Kind.SIMULATED]  # the analysis reads simulated participants only when told to


@pytest.fixture
def explanation_set():
    return make_explanation_set()


@pytest.fixture
def study(explanation_set):
    return make_study(explanation_set, slug="pilot")


def test_the_command_adds_participants_who_finish_through_the_services(study):
    out = io.StringIO()
    call_command("simulate_responses", "pilot", "--participants", "4", "--fail-rate", "0.25", "--seed", "3", stdout=out)
    people = Participant.objects.filter(study=study)
    assert people.count() == 4 and all(p.is_finished and p.kind == Participant.Kind.SIMULATED for p in people)
    assert Answer.objects.filter(participant__study=study).count() == 4 * 25
    assert SheetEntry.objects.filter(participant__study=study, shown_at__isnull=True).count() == 0  # all were shown
    passed = people.filter(passed=True).count()
    assert out.getvalue().strip() == (
        f"Simulated 4 participants in study pilot (1 careless; {passed} passed the attention checks; preference "
        "normlime=0.57, lime=0.26, smoothgrad=0.08, vargrad=0.09; seed 3). The study now has 4 simulated participants."
    )


def test_attentive_participants_vote_by_the_preference_and_pass_the_checks(study):
    result = simulate.simulate_study(study, 3, {"normlime": 1.0}, fail_rate=0, seed=0, slip_rate=0)
    assert (result.created, result.passed, result.careless) == (3, 3, 0)
    assert set(Answer.objects.filter(participant__study=study).exclude(method="").values_list("method", flat=True)) == {
        "normlime"
    }
    assert all(p.checks_passed == 5 for p in Participant.objects.filter(study=study))


def test_careless_participants_are_spread_evenly_and_exactly(study):
    assert [simulate.is_careless(k, 0.1) for k in range(20)].count(True) == 2
    assert [k for k in range(8) if simulate.is_careless(k, 0.25)] == [3, 7]
    plan = simulate.plan_participant(3, 0, 20, 5, np.array([1.0, 0, 0, 0]), 0.25, 26.0, 0.0)
    assert plan.careless and len(set(plan.votes)) > 1  # random answers, whatever the preference


def test_the_same_seed_gives_the_same_votes_whatever_order_the_sheets_show(explanation_set, study):
    other = make_study(explanation_set, slug="pilot2")
    simulate.simulate_study(study, 3, fail_rate=0, seed=11)
    simulate.simulate_study(other, 3, fail_rate=0, seed=11)
    one, two = load_study_arrays(study, SIMULATED), load_study_arrays(other, SIMULATED)
    np.testing.assert_array_equal(one.choices, two.choices)
    np.testing.assert_array_equal(one.correct, two.correct)


def test_simulate_study_tops_up_instead_of_adding_again(study):
    first = simulate.simulate_study(study, 2, seed=0)
    again = simulate.simulate_study(study, 2, seed=0)
    more = simulate.simulate_study(study, 3, seed=0)
    assert (first.created, again.created, more.created) == (2, 0, 1)
    assert (again.existing, more.existing) == (2, 2)
    assert Participant.objects.filter(study=study).count() == 3


def test_topping_up_gives_the_same_votes_as_creating_all_at_once(explanation_set, study):
    other = make_study(explanation_set, slug="pilot2")
    simulate.simulate_study(study, 1, seed=5, fail_rate=0)
    simulate.simulate_study(study, 2, seed=5, fail_rate=0)
    simulate.simulate_study(other, 2, seed=5, fail_rate=0)
    np.testing.assert_array_equal(
        load_study_arrays(study, SIMULATED).choices, load_study_arrays(other, SIMULATED).choices
    )


def test_simulated_participants_start_in_the_order_created_and_finish_before_now(study):
    before = timezone.now()
    simulate.simulate_study(study, 2, seed=0)
    a, b = Participant.objects.filter(study=study).order_by("pk")
    assert a.started_at < b.started_at
    assert a.finished_at < before and b.finished_at < before
    assert 25 < a.duration_seconds < 60 * 60


@pytest.mark.parametrize(
    "text, message",
    [
        ("normlime=0.5,lime=0.6", "shares sum to 1.1, not 1"),
        ("normlime=1,shap=0", "unknown method 'shap'"),
        ("normlime", "write method=share"),
        ("normlime=a", "normlime='a' is not a number"),
        ("normlime=0.5,normlime=0.5", "normlime is given twice"),
        ("normlime=1.5,lime=-0.5", "must be non-negative"),
    ],
)
def test_a_bad_preference_is_refused_with_the_reason(text, message):
    with pytest.raises(simulate.SimulationError, match=message):
        simulate.parse_preference(text)


def test_preferences_left_out_are_zero_and_rounding_is_forgiven():
    assert simulate.parse_preference("normlime=0.6, lime=0.399") == pytest.approx(
        {"normlime": 0.6 / 0.999, "lime": 0.399 / 0.999, "smoothgrad": 0.0, "vargrad": 0.0}
    )


def test_a_closed_study_is_refused_with_a_one_line_error(study):
    services.set_study_status(study, Study.Status.CLOSED)
    with pytest.raises(
        CommandError, match=r"^study pilot: study pilot is closed \(simulated participants use the direct link\)$"
    ):
        call_command("simulate_responses", "pilot", "--participants", "1")
    assert Participant.objects.count() == 0


def test_bad_numbers_are_refused(study):
    with pytest.raises(CommandError, match="--participants 0: use 1 or more"):
        call_command("simulate_responses", "pilot", "--participants", "0")
    with pytest.raises(CommandError, match="fail rate 1.5: use 0 to 1"):
        call_command("simulate_responses", "pilot", "--participants", "1", "--fail-rate", "1.5")
    with pytest.raises(CommandError, match="unknown method 'gradcam'"):
        call_command("simulate_responses", "pilot", "--participants", "1", "--preference", "gradcam=1")


def test_the_default_preference_keeps_the_papers_shares_and_gives_other_methods_its_smallest():
    assert simulate.default_preference(("normlime", "lime", "smoothgrad", "vargrad")) == pytest.approx(
        simulate.PAPER_PREFERENCE
    )
    # normlime 0.57, lime 0.26, ig gets SmoothGrad's 0.08: total 0.91
    assert simulate.default_preference(("normlime", "lime", "ig")) == pytest.approx(
        {"normlime": 0.57 / 0.91, "lime": 0.26 / 0.91, "ig": 0.08 / 0.91}
    )
    assert simulate.default_preference(("shap", "random")) == {"shap": 0.5, "random": 0.5}


def test_a_study_of_three_methods_is_simulated_over_its_own_methods():
    explanation_set = make_explanation_set("three", ("normlime", "lime", "smoothgrad"))
    study = make_study(explanation_set, slug="three", methods=("normlime", "lime", "smoothgrad"))
    out = io.StringIO()
    call_command(
        "simulate_responses",
        study.slug,
        "--participants",
        "4",
        "--fail-rate",
        "0",
        "--preference",
        "normlime=0.8,lime=0.2",
        stdout=out,
    )
    assert "preference normlime=0.80, lime=0.20, smoothgrad=0.00" in out.getvalue()
    data = load_study_arrays(study, SIMULATED)
    assert data.methods == ("normlime", "lime", "smoothgrad") and data.choices.shape == (4, 30)
    assert set(np.unique(data.choices)) <= {0, 1}  # nobody voted for a method with share 0
    with pytest.raises(CommandError, match="unknown method 'vargrad'"):
        call_command("simulate_responses", study.slug, "--participants", "1", "--preference", "vargrad=1")


def test_simulated_participants_are_of_kind_simulated_and_left_out_of_the_analysis_unless_included(study):
    simulate.simulate_study(study, 2, seed=0, fail_rate=0)
    assert list(Participant.objects.filter(study=study).values_list("kind", flat=True)) == ["simulated"] * 2
    default = load_study_arrays(study)
    assert (len(default.participants), default.kinds, default.left_out) == (0, ("real",), {"simulated": 2})
    included = load_study_arrays(study, SIMULATED)
    assert [p.kind for p in included.participants] == ["simulated"] * 2 and included.left_out == {}


def test_topping_up_counts_only_simulated_participants_not_real_ones(study):
    services.start_participant(study, services.EntryParams(platform=Participant.Platform.DIRECT))
    result = simulate.simulate_study(study, 2, seed=0)
    assert (result.existing, result.created) == (0, 2)
    assert Participant.objects.filter(study=study, kind=Participant.Kind.REAL).count() == 1
