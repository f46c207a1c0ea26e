"""Researchers' pages about participants by kind: the pilot preview, deleting pilot and simulated
participants, the Prolific id downloads, and the Participant admin's one deleting action."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from survey import services
from survey.models import Participant, Study
from survey.testing import answer_all, correct_position, make_study
from survey.tokens import make_token

pytestmark = pytest.mark.django_db


def _simulated(study) -> Participant:
    participant, _ = services.start_participant(study, services.EntryParams(platform="direct"))
    Participant.objects.filter(pk=participant.pk).update(kind=Participant.Kind.SIMULATED)
    return participant


@pytest.mark.parametrize(
    "name, args, method",
    [
        ("survey:study_pilot", ["s1"], "post"),
        ("survey:delete_participants", ["s1"], "post"),
        ("survey:prolific_ids", ["s1", "passed"], "get"),
    ],
)
def test_the_pages_send_anonymous_visitors_to_the_login(client, study, name, args, method):
    response = getattr(client, method)(reverse(name, args=args))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Participant.objects.exists()


def test_the_pilot_button_takes_a_get_as_not_allowed(staff_client, study):
    assert staff_client.get(reverse("survey:study_pilot", args=[study.slug])).status_code == 405


def test_preview_as_a_participant_goes_through_the_real_pages_and_ends_on_a_pilot_notice(staff_client, explanation_set):
    study = make_study(explanation_set, slug="draft", status=Study.Status.DRAFT)
    response = staff_client.post(reverse("survey:study_pilot", args=[study.slug]))
    assert response.status_code == 303
    pilot = Participant.objects.get()
    assert pilot.kind == "pilot"
    home = staff_client.get(response["Location"])
    assert home.status_code == 200 and "survey/instructions.html" in [t.name for t in home.templates]
    answer_all(pilot, pick=lambda q: correct_position(pilot, q.position) or 1)
    finish = staff_client.get(reverse("survey:finish", args=[study.slug, response["Location"].split("/")[-2]]))
    assert finish.status_code == 200 and b'id="pilot-notice"' in finish.content
    assert services.study_summary(study).started == 0


def test_a_real_participants_finish_page_has_no_pilot_notice(client, study):
    participant, _ = services.start_participant(study, services.EntryParams(platform="direct"))
    answer_all(participant)
    finish = client.get(reverse("survey:finish", args=[study.slug, make_token(participant.public_id)]))
    assert finish.status_code == 200 and b"pilot-notice" not in finish.content


def test_a_closed_study_refuses_a_pilot_with_a_page_that_says_why(staff_client, study):
    services.set_study_status(study, Study.Status.CLOSED)
    response = staff_client.post(reverse("survey:study_pilot", args=[study.slug]))
    assert response.status_code == 403 and b"is closed" in response.content
    assert not Participant.objects.exists()


def test_the_monitor_shows_the_participants_who_do_not_count_and_the_buttons(staff_client, study):
    services.start_pilot(study)
    _simulated(study)
    _simulated(study)
    response = staff_client.get(reverse("survey:monitor", args=[study.slug]))
    html = response.content.decode()
    assert '<span id="not-counted-pilot">1 pilot</span>' in html
    assert '<span id="not-counted-simulated">2 simulated</span>' in html
    assert 'id="stat-started">0<' in html
    assert reverse("survey:study_pilot", args=[study.slug]) in html
    assert reverse("survey:delete_participants", args=[study.slug]) in html


def test_deleting_asks_to_confirm_first_and_deletes_nothing_until_then(staff_client, study):
    services.start_pilot(study)
    _simulated(study)
    url = reverse("survey:delete_participants", args=[study.slug])
    response = staff_client.post(url, {"kinds": ["pilot", "simulated"]})
    assert response.status_code == 200 and b"1 pilot participant<" in response.content
    assert b"1 simulated participant<" in response.content
    assert Participant.objects.count() == 2
    response = staff_client.post(url, {"kinds": ["pilot"], "confirm": "on"})
    assert response.status_code == 303 and response["Location"] == study.get_monitor_url()
    assert list(Participant.objects.values_list("kind", flat=True)) == ["simulated"]


def test_real_participants_cannot_be_deleted_from_the_monitor(staff_client, study):
    services.start_participant(study, services.EntryParams(platform="direct"))
    url = reverse("survey:delete_participants", args=[study.slug])
    response = staff_client.post(url, {"kinds": ["real"], "confirm": "on"})
    assert response.status_code == 400 and b"real participants cannot be deleted" in response.content
    assert Participant.objects.count() == 1


def test_the_prolific_downloads_are_one_id_a_line(staff_client, explanation_set):
    study = make_study(explanation_set, slug="p1", accept_prolific=True, prolific_completion_code="C0DE")
    for pid in ("AAA", "BBB"):
        participant, _ = services.start_participant(
            study, services.EntryParams(platform=Participant.Platform.PROLIFIC, prolific_pid=pid)
        )
        answer_all(participant, pick=lambda q, p=participant: correct_position(p, q.position) or 1)
    response = staff_client.get(reverse("survey:prolific_ids", args=[study.slug, "passed"]))
    assert response.status_code == 200 and response.content == b"AAA\nBBB\n"
    assert response["Content-Disposition"] == 'attachment; filename="p1-prolific-passed.txt"'
    assert staff_client.get(reverse("survey:prolific_ids", args=[study.slug, "failed"])).content == b""
    monitor = staff_client.get(reverse("survey:monitor", args=[study.slug])).content.decode()
    assert reverse("survey:prolific_ids", args=[study.slug, "failed"]) in monitor


def test_an_unknown_prolific_list_is_not_found(staff_client, study):
    assert staff_client.get(reverse("survey:prolific_ids", args=[study.slug, "maybe"])).status_code == 404


def test_the_admin_action_deletes_selected_pilots_and_refuses_a_selection_with_a_real_one(client, study):
    client.force_login(User.objects.create_superuser("admin", password="x"))
    pilot = services.start_pilot(study)
    real, _ = services.start_participant(study, services.EntryParams(platform="direct"))
    url = reverse("admin:survey_participant_changelist")
    action = "delete_not_counted"
    response = client.post(url, {"action": action, "_selected_action": [pilot.pk, real.pk]}, follow=True)
    assert b"Nothing deleted: 1 of the selected are real participants." in response.content
    assert Participant.objects.count() == 2
    response = client.post(url, {"action": action, "_selected_action": [pilot.pk]}, follow=True)
    assert b"Deleted 1 participants." in response.content
    assert list(Participant.objects.values_list("pk", flat=True)) == [real.pk]
