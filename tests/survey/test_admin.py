"""The admin: studies editable within limits, participants filterable, answers read-only."""

import io

import pytest
from django.urls import reverse
from PIL import Image

from survey import services
from survey.models import Answer, Item, Study
from survey.testing import answer_all, mturk_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, stop_after=3)
    return study


def test_the_survey_admin_pages_open(admin_client, answered):
    answer = Answer.objects.first()
    for url in (
        reverse("admin:survey_study_changelist"),
        reverse("admin:survey_study_change", args=[answered.pk]),
        reverse("admin:survey_participant_changelist") + "?status__exact=started&platform__exact=mturk",
        reverse("admin:survey_answer_changelist"),
        reverse("admin:survey_answer_change", args=[answer.pk]),
        reverse("admin:survey_item_changelist"),
        reverse("admin:survey_mturkhit_changelist"),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_participants_can_be_filtered_by_status_and_platform(admin_client, answered):
    started = admin_client.get(reverse("admin:survey_participant_changelist") + "?status__exact=started")
    finished = admin_client.get(reverse("admin:survey_participant_changelist") + "?status__exact=finished")
    prolific = admin_client.get(reverse("admin:survey_participant_changelist") + "?platform__exact=prolific")
    assert started.context["cl"].result_count == 1
    assert finished.context["cl"].result_count == 0 and prolific.context["cl"].result_count == 0


def test_answers_cannot_be_changed_or_deleted_in_the_admin(admin_client, answered):
    answer = Answer.objects.first()
    url = reverse("admin:survey_answer_change", args=[answer.pk])
    admin_client.post(url, {"position": 4})
    assert Answer.objects.get(pk=answer.pk).position == answer.position
    assert admin_client.get(reverse("admin:survey_answer_delete", args=[answer.pk])).status_code == 403
    assert admin_client.get(reverse("admin:survey_answer_add")).status_code == 403


def test_studies_are_opened_and_closed_with_admin_actions(admin_client, study):
    admin_client.post(
        reverse("admin:survey_study_changelist"), {"action": "close_studies", "_selected_action": [study.pk]}
    )
    assert Study.objects.get().status == "closed"


def test_an_attention_check_can_be_replaced_in_the_admin(admin_client, study):
    item = Item.objects.filter(study=study, kind="attention").first()
    url = reverse("admin:survey_item_replace", args=[item.pk])
    assert admin_client.get(url).status_code == 200

    def upload(shade, name):
        buf = io.BytesIO()
        Image.new("L", (28, 28), color=shade).save(buf, format="PNG")
        buf.name = name
        buf.seek(0)
        return buf

    response = admin_client.post(
        url,
        {
            "digit": 2,
            "correct": upload(255, "c.png"),
            "distractor_1": upload(90, "a.png"),
            "distractor_2": upload(90, "b.png"),
            "distractor_3": upload(30, "d.png"),
        },
    )
    assert response.status_code == 302
    assert Item.objects.get(pk=item.pk).digit == 2


def test_an_attention_check_of_a_two_method_study_is_replaced_with_one_distractor(admin_client):
    from survey.testing import make_explanation_set, make_study

    study = make_study(make_explanation_set("two", ("normlime", "lime")), slug="two", methods=("normlime", "lime"))
    item = Item.objects.filter(study=study, kind="attention").first()
    url = reverse("admin:survey_item_replace", args=[item.pk])
    page = admin_client.get(url).content.decode()
    assert (
        'name="distractor_1"' in page
        and 'name="distractor_2"' not in page
        and "the 1 distractor should show other digits." in page
    )

    def upload(shade, name):
        buf = io.BytesIO()
        Image.new("L", (28, 28), color=shade).save(buf, format="PNG")
        buf.name = name
        buf.seek(0)
        return buf

    response = admin_client.post(
        url, {"digit": 2, "correct": upload(255, "c.png"), "distractor_1": upload(90, "a.png")}
    )
    assert response.status_code == 302
    assert [o.is_correct for o in Item.objects.get(pk=item.pk).options.order_by("slot")] == [True, False]


def test_the_study_admin_shows_the_texts_in_their_own_fieldset(admin_client, study):
    html = admin_client.get(reverse("admin:survey_study_change", args=[study.pk])).content.decode()
    fieldset = html[html.index("Participant texts") : html.index("Questions", html.index("Participant texts"))]
    for name in services.TEXT_FIELDS:
        assert f'name="{name}"' in fieldset


def test_the_study_admin_shows_the_texts_read_only_once_a_real_participant_started(admin_client, answered):
    html = admin_client.get(reverse("admin:survey_study_change", args=[answered.pk])).content.decode()
    assert 'name="consent_text"' not in html and 'name="question_prompt"' not in html
