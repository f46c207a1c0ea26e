"""The researcher's texts page: staff only, preview without saving, save through update_texts, errors in the form."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from survey import services, texts
from survey.models import Item, Study
from survey.pictures import DATA_URL

pytestmark = pytest.mark.django_db


def url(study) -> str:
    return reverse("survey:study_texts", args=[study.slug])


def saved_form(study, **changes) -> dict:
    """The form as the page fills it (every text field), with ``changes``."""
    return {name: getattr(study, name) for name in services.TEXT_FIELDS} | changes


def test_anonymous_visitors_are_sent_to_the_login(client, study):
    response = client.get(url(study))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_logged_in_user_who_is_not_staff_is_sent_to_the_login(client, study):
    client.force_login(User.objects.create_user("plain", password="x"))
    assert client.post(url(study), saved_form(study, researcher="Eve") | {"save": "1"}).status_code == 302
    assert Study.objects.get().researcher == ""


def test_the_page_has_a_field_for_every_text_and_lists_the_placeholders(staff_client, study):
    html = staff_client.get(url(study)).content.decode()
    for name in services.TEXT_FIELDS:
        assert f'name="{name}"' in html
    for name in texts.PLACEHOLDERS:
        assert f"<code>{{{name}}}</code>" in html


def test_the_page_previews_the_consent_and_the_first_real_question_with_its_pictures(staff_client, study):
    html = staff_client.get(url(study)).content.decode()
    first = Item.objects.filter(study=study, kind=Item.Kind.REAL).order_by("number").first()
    question = html[html.index('id="preview-question"') :]
    assert f'distinguish the number <mark class="digit">{first.digit}</mark>' in question
    assert len(DATA_URL.findall(question)) == 4 and '<fieldset class="options" disabled>' in question
    assert "You will see 25 sets of four images" in html[html.index('id="preview-consent"') :]


def test_preview_shows_the_typed_texts_and_saves_nothing(staff_client, study):
    data = saved_form(study, question_prompt="Which shows {label} best?", researcher="Dr Ada Lovelace")
    response = staff_client.post(url(study), data | {"preview": "1"})
    html = response.content.decode()
    assert response.status_code == 200 and "not saved" in html
    assert "Which shows <mark" in html and "<dd>Dr Ada Lovelace</dd>" in html
    saved = Study.objects.get()
    assert saved.question_prompt == texts.DEFAULT_PROMPT and saved.researcher == ""


def test_preview_shows_typed_markup_as_text(staff_client, study):
    html = staff_client.post(url(study), saved_form(study, consent_text="<b>bold</b>") | {"preview": "1"}).content
    assert b"&lt;b&gt;bold&lt;/b&gt;" in html and b"<b>bold</b>" not in html


def test_save_stores_the_texts_and_comes_back_to_the_page(staff_client, study):
    data = saved_form(study, completion_message="Done: {questions} questions.", duration_minutes=12)
    response = staff_client.post(url(study), data | {"save": "1"})
    assert response.status_code == 302 and response["Location"] == url(study)
    saved = Study.objects.get()
    assert saved.completion_message == "Done: {questions} questions." and saved.duration_minutes == 12
    assert "The participant texts are saved." in staff_client.get(url(study)).content.decode()


def test_an_unknown_placeholder_is_a_form_error_and_nothing_is_saved(staff_client, study):
    response = staff_client.post(url(study), saved_form(study, question_prompt="The {digit}?") | {"save": "1"})
    assert response.status_code == 200
    assert "unknown placeholder {digit}" in response.content.decode()
    assert Study.objects.get().question_prompt == texts.DEFAULT_PROMPT


def test_saving_once_a_real_participant_started_is_a_form_error_saying_so(staff_client, study):
    services.start_participant(study, services.EntryParams(platform="direct"))
    response = staff_client.post(url(study), saved_form(study, payment="£2") | {"save": "1"})
    assert response.status_code == 200
    assert "has real participants" in response.context["form"].non_field_errors()[0]
    assert Study.objects.get().payment == ""


def test_a_bad_study_input_from_the_service_is_the_form_error_in_the_same_words(staff_client, study, monkeypatch):
    def refuse(study, **values):
        raise services.BadStudyInput("payment: too dear")

    monkeypatch.setattr(services, "update_texts", refuse)
    response = staff_client.post(url(study), saved_form(study, payment="£2") | {"save": "1"})
    assert response.context["form"].non_field_errors() == ["payment: too dear"]


def test_the_texts_page_of_an_unknown_study_is_a_404(staff_client, db):
    assert staff_client.get(reverse("survey:study_texts", args=["nope"])).status_code == 404


def test_the_monitor_links_the_texts_page(staff_client, study):
    assert url(study).encode() in staff_client.get(reverse("survey:monitor", args=[study.slug])).content
