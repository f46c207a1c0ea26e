"""Researchers' pages: staff only; the monitor's numbers and the download buttons."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from survey import services
from survey.testing import answer_all, correct_position, mturk_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(study):
    done, _ = services.start_participant(study, mturk_params("W1", "A1"))
    answer_all(done, pick=lambda q: correct_position(done, q.position) or 1)
    half, _ = services.start_participant(study, mturk_params("W2", "A2"))
    answer_all(half, stop_after=3)
    return study


@pytest.mark.parametrize(
    "name, args",
    [
        ("survey:study_list", []),
        ("survey:monitor", ["s1"]),
        ("survey:download", ["s1", "csv"]),
    ],
)
def test_staff_pages_send_anonymous_visitors_to_the_login(client, study, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_logged_in_user_who_is_not_staff_is_sent_to_the_login(client, study):
    client.force_login(User.objects.create_user("plain", password="x"))
    assert client.get(reverse("survey:monitor", args=[study.slug])).status_code == 302


def test_the_study_list_links_each_monitor(admin_client, study):
    response = admin_client.get(reverse("survey:study_list"))
    assert response.status_code == 200 and study.get_monitor_url().encode() in response.content


def test_the_monitor_shows_started_finished_passing_votes_and_median_time(admin_client, answered):
    response = admin_client.get(reverse("survey:monitor", args=[answered.slug]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="stat-started">2<' in html and 'id="stat-finished">1<' in html and 'id="stat-passing">1<' in html
    assert 'id="stat-median">–<' not in html
    assert "http://testserver/s/s1/" in html
    summary = response.context["summary"]
    assert sum(summary.votes_passing.values()) == 20


def test_the_monitor_of_an_unknown_study_is_a_404(admin_client, db):
    assert admin_client.get(reverse("survey:monitor", args=["nope"])).status_code == 404


def test_the_csv_download_has_one_row_per_answer(admin_client, answered):
    response = admin_client.get(reverse("survey:download", args=[answered.slug, "csv"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 28


def test_the_json_download_has_one_row_per_answer(admin_client, answered):
    response = admin_client.get(reverse("survey:download", args=[answered.slug, "json"]))
    assert json.loads(response.content)["rows"].__len__() == 28


def test_an_unknown_download_format_is_a_404(admin_client, study):
    assert admin_client.get(reverse("survey:download", args=[study.slug, "xlsx"])).status_code == 404
