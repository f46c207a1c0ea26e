"""The study's analysis page: staff only, computed from the database on request, figures and files rendered live."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import TestCase
from django.urls import reverse

from analysis import simulate, study_views
from survey.models import Participant
from survey.testing import make_explanation_set, make_study

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def plan(n_normlime, n_lime, n_smoothgrad, n_vargrad, checks_right) -> simulate.Plan:
    vote_list = (0,) * n_normlime + (1,) * n_lime + (2,) * n_smoothgrad + (3,) * n_vargrad
    return simulate.Plan(
        careless=False,
        votes=vote_list,
        checks_right=(True,) * checks_right + (False,) * (5 - checks_right),
        wrong_picks=(0,) * 5,
        seconds=(3.0,) * 25,
    )


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def study():
    return make_study(make_explanation_set(), slug="s1")


def url(name: str, *args: str) -> str:
    return reverse(f"analysis:{name}", args=["s1", *args])


@pytest.mark.parametrize("name, args", [("report", []), ("figure", ["shares"]), ("download", ["votes.csv"])])
def test_anonymous_visitors_are_sent_to_the_login(client, study, name, args):
    response = client.get(url(name, *args))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_logged_in_user_who_is_not_staff_is_sent_to_the_login(client, study):
    client.force_login(User.objects.create_user("plain", password="x"))
    assert client.get(url("report")).status_code == 302


def test_the_url_sits_under_the_studys_research_pages():
    assert url("report") == "/research/studies/s1/report/"
    assert url("figure", "tukey") == "/research/studies/s1/report/tukey.png"


class TestTheReportOfAnAnsweredStudy(TestCase):
    """Three participants answered once for the class (setUpTestData); the cache is emptied before each test."""

    @classmethod
    def setUpTestData(cls):
        cls.study = make_study(make_explanation_set(), slug="s1")
        layout = simulate.study_layout(cls.study)
        for i, p in enumerate([plan(10, 5, 3, 2, 5), plan(8, 6, 4, 2, 4), plan(0, 20, 0, 0, 3)]):
            simulate.simulate_participant(cls.study, p, T0 + timedelta(minutes=i), layout)
        Participant.objects.filter(study=cls.study).update(kind=Participant.Kind.REAL)  # stand-ins for real people
        cls.admin = User.objects.create_superuser("admin", "admin@example.org", "x")

    def setUp(self):
        cache.clear()
        self.client.force_login(self.admin)

    def get(self, path: str):
        return self.client.get(path)

    def test_the_page_shows_the_kept_surveys_votes_and_the_papers_tests(self):
        response = self.get(url("report"))
        html = response.content.decode()
        assert response.status_code == 200
        assert "<strong>Kept 2</strong> that passed at least\n  4 of 5 attention checks; excluded 1." in html
        assert '<td>passed 3 of 5 attention checks (needs 4)</td><td class="num">1</td>' in html
        assert '<th scope="row">NormLIME</th>\n      <td class="num">18</td>' in html
        assert "F(3, 4) = 24.4, p = " in html
        assert 'id="tukey"' in html and 'id="wilcoxon"' in html and "Kendall&#x27;s W = 1.000" in html
        assert f"use {study_views.PAGE_N_BOOT} bootstrap resamples" in html
        assert 'src="/research/studies/s1/report/shares.png"' in html
        assert self.study.get_monitor_url() in html

    def test_the_figures_are_rendered_as_png(self):
        for name in ("shares", "tukey"):
            response = self.get(url("figure", name))
            assert response.status_code == 200 and response["Content-Type"] == "image/png"
            assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert self.get(url("figure", "pie")).status_code == 404

    def test_the_files_are_downloads_of_the_same_report(self):
        response = self.get(url("download", "report.json"))
        assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
        doc = json.loads(response.content)
        assert doc["parameters"]["n_boot"] == study_views.PAGE_N_BOOT and doc["participants"]["kept"] == 2
        votes = list(csv.DictReader(io.StringIO(self.get(url("download", "votes.csv")).content.decode())))
        assert [r["kept"] for r in votes] == ["true", "true", "false"]
        tukey = self.get(url("download", "tukey.csv")).content.decode()
        assert tukey.startswith(
            "group1,group2,meandiff,lower,upper,p_adj,p_adj_is_bound,p_adj_text,reject\nnormlime,lime,"
        )
        assert self.get(url("download", "settings.py")).status_code == 404

    def test_the_page_is_current_as_responses_arrive(self):
        assert "<strong>Kept 2</strong>" in self.get(url("report")).content.decode()
        late = simulate.simulate_participant(self.study, plan(20, 0, 0, 0, 5), T0 + timedelta(hours=1))
        Participant.objects.filter(pk=late.pk).update(kind=Participant.Kind.REAL)
        html = self.get(url("report")).content.decode()
        assert "<strong>Kept 3</strong>" in html and '<td class="num">38</td>' in html

    def add_simulated(self):
        """A simulated participant who passes and votes VarGrad 20 times."""
        simulate.simulate_participant(self.study, plan(0, 0, 0, 20, 5), T0 + timedelta(hours=2))

    def test_only_real_participants_count_unless_ticked_and_the_page_says_who_was_left_out(self):
        self.add_simulated()
        html = self.get(url("report")).content.decode()
        assert "<strong>Kept 2</strong>" in html
        assert (
            '<p id="kinds">Counted: real participants only. '
            "Left out: 1 simulated participant (tick them above the report to count them).</p>"
        ) in html
        assert '<input type="checkbox" name="include" value="simulated"> simulated' in html
        assert '<input type="checkbox" name="include" value="pilot"> pilot' in html

    def test_ticked_kinds_count_and_carry_to_the_figures_and_downloads(self):
        self.add_simulated()
        html = self.get(url("report") + "?include=simulated").content.decode()
        assert "<strong>Kept 3</strong>" in html
        assert '<p id="kinds">Counted: real, simulated participants (kept: 2 real, 1 simulated).</p>' in html
        assert '<input type="checkbox" name="include" value="simulated" checked> simulated' in html
        assert 'src="/research/studies/s1/report/shares.png?include=simulated"' in html
        assert 'href="/research/studies/s1/report/files/votes.csv?include=simulated"' in html
        votes = list(
            csv.DictReader(io.StringIO(self.get(url("download", "votes.csv") + "?include=simulated").content.decode()))
        )
        assert [r["participant_kind"] for r in votes] == ["real", "real", "real", "simulated"]
        real_only = list(csv.DictReader(io.StringIO(self.get(url("download", "votes.csv")).content.decode())))
        assert [r["participant_kind"] for r in real_only] == ["real"] * 3
        doc = json.loads(self.get(url("download", "report.json") + "?include=simulated&min_checks=3").content)
        assert doc["parameters"]["include"] == ["real", "simulated"] and doc["participants"]["kept"] == 4
        assert self.get(url("figure", "shares") + "?include=simulated").status_code == 200

    def test_an_unknown_kind_is_shown_as_a_form_error_and_only_real_participants_count(self):
        self.add_simulated()
        html = self.get(url("report") + "?include=robot").content.decode()
        assert "Select a valid choice. robot is not one of the available choices." in html
        assert "<strong>Kept 2</strong>" in html

    def test_min_checks_can_be_changed_on_the_page_and_carries_to_the_figures(self):
        html = self.get(url("report") + "?min_checks=3").content.decode()
        assert "<strong>Kept 3</strong>" in html and 'src="/research/studies/s1/report/shares.png?min_checks=3"' in html
        votes = self.get(url("download", "votes.csv") + "?min_checks=3").content.decode()
        assert votes.count(",true,,") == 3  # kept, no exclusion reason

    def test_a_bad_min_checks_is_shown_and_the_studys_threshold_used(self):
        html = self.get(url("report") + "?min_checks=abc").content.decode()
        assert "Enter a whole number." in html and "<strong>Kept 2</strong>" in html


def test_a_study_without_enough_answers_says_so_and_has_no_figures(admin_client, study):
    response = admin_client.get(url("report"))
    assert response.status_code == 200
    assert "Nothing to analyse yet:</strong> no finished participants yet (0 started)" in response.content.decode()
    assert admin_client.get(url("figure", "shares")).status_code == 404


def test_an_unknown_study_is_404_and_writes_are_refused(admin_client, study):
    assert admin_client.get(reverse("analysis:report", args=["nope"])).status_code == 404
    assert admin_client.post(url("report")).status_code == 405
