"""Participant pages: the way through, MTurk/Prolific/direct, framing, and every kind of bad input."""

import re

import pytest
from django.urls import reverse

from survey import services
from survey.models import Answer, ItemOption, Participant, SheetEntry, Study
from survey.pictures import DATA_URL, keyed_png, picture, png_of
from survey.testing import correct_position, make_study
from survey.tokens import make_token

pytestmark = pytest.mark.django_db

SANDBOX = "https://workersandbox.mturk.com"


def mturk(worker="A1WORKER", assignment="3ASSIGN", hit="3HIT"):
    return {"assignmentId": assignment, "hitId": hit, "workerId": worker, "turkSubmitTo": SANDBOX}


def start(client, study, **params):
    response = client.post(reverse("survey:start", args=[study.slug]), {**params, "consent": "on"})
    assert response.status_code == 303, response.content
    return response["Location"]


def item_of(response) -> int:
    return int(re.search(rb'name="item" value="(\d+)"', response.content).group(1))


def question_url(home: str, position: int) -> str:
    return f"{home}q/{position}/"


def answer(client, home, position, choice=1, item=None):
    page = client.get(question_url(home, position))
    assert page.status_code == 200
    return client.post(question_url(home, position), {"item": item or item_of(page), "choice": choice})


def complete(client, home, participant=None, pick=None):
    """Answer every question through the pages, following the redirects like a browser."""
    url = question_url(home, 1)
    for _ in range(30):
        page = client.get(url)
        if page.status_code == 302 and not page["Location"].startswith("/"):
            return page  # sent back to the platform (Prolific)
        if page.status_code == 302:
            url = page["Location"]
            continue
        if "/finish/" in url:
            return page
        position = int(re.search(r"/q/(\d+)/$", url).group(1))
        choice = pick(participant, position) if pick else 1
        posted = client.post(url, {"item": item_of(page), "choice": choice})
        assert posted.status_code == 303
        url = posted["Location"]
    raise AssertionError("the survey did not finish")


def passing(participant, position):
    return correct_position(participant, position) or 2


# --- the way through ---------------------------------------------------------------------------------


def test_the_consent_page_carries_the_mturk_parameters_to_the_start(client, study):
    response = client.get(reverse("survey:landing", args=[study.slug]), mturk())
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="workerId" value="A1WORKER"' in html and 'name="consent"' in html
    assert not Participant.objects.exists()


def test_an_mturk_worker_completes_the_survey_and_gets_the_submit_form(client, study):
    home = start(client, study, **mturk())
    participant = Participant.objects.get()
    instructions = client.get(home)
    assert (
        b"distinguishing this particular number" in instructions.content
        and b"with the image of the number 4, the red pixels" in instructions.content
    )
    finish = complete(client, home, participant, pick=passing)
    html = finish.content.decode()
    assert f'action="{SANDBOX}/mturk/externalSubmit"' in html
    assert 'name="assignmentId" value="3ASSIGN"' in html
    participant.refresh_from_db()
    assert f'name="completion_code" value="{participant.completion_code}"' in html
    assert participant.is_finished and participant.passed and Answer.objects.count() == 25


def test_a_question_page_asks_about_its_digit_with_four_equal_images(client, study):
    home = start(client, study, **mturk())
    page = client.get(question_url(home, 1))
    entry = SheetEntry.objects.get(position=1)
    html = page.content.decode()
    assert f'distinguish the number <mark class="digit">{entry.item.digit}</mark>' in html
    assert html.count('width="280" height="280"') == 4 and html.count('type="radio"') == 4
    assert "Question 1 of 25" in html
    text = DATA_URL.sub("", html).lower()  # the pictures' base64 could hold any short word
    for method in study.methods:  # nothing on the page tells which method is which
        assert method not in text


def test_refreshing_a_question_neither_loses_nor_duplicates(client, study):
    home = start(client, study, **mturk())
    page = client.get(question_url(home, 1))
    assert client.get(question_url(home, 1)).status_code == 200  # refresh before answering
    for _ in range(2):  # a refresh that re-sends the form
        posted = client.post(question_url(home, 1), {"item": item_of(page), "choice": 2})
        assert posted.status_code == 303 and posted["Location"].endswith("/q/2/")
    assert Answer.objects.count() == 1
    assert client.get(question_url(home, 1))["Location"].endswith("/q/2/")


def test_a_double_submit_with_another_choice_changes_nothing(client, study):
    home = start(client, study, **mturk())
    page = client.get(question_url(home, 1))
    item = item_of(page)
    first = client.post(question_url(home, 1), {"item": item, "choice": 1})
    second = client.post(question_url(home, 1), {"item": item, "choice": 4})
    assert first.status_code == second.status_code == 303
    assert list(Answer.objects.values_list("position", flat=True)) == [1]


def test_going_back_leads_to_the_question_due(client, study):
    home = start(client, study, **mturk())
    for position in (1, 2, 3):
        answer(client, home, position)
    back = client.get(question_url(home, 2))
    assert back.status_code == 302 and back["Location"].endswith("/q/4/")
    ahead = client.get(question_url(home, 9))
    assert ahead.status_code == 302 and ahead["Location"].endswith("/q/4/")


def test_a_worker_who_comes_back_resumes_where_they_stopped(client, study):
    home = start(client, study, **mturk())
    for position in (1, 2):
        answer(client, home, position)
    landing = client.get(reverse("survey:landing", args=[study.slug]), mturk())
    assert b"Welcome back" in landing.content
    again = start(client, study, **mturk())
    assert client.get(again)["Location"].endswith("/q/3/")
    assert Participant.objects.count() == 1


def test_a_worker_who_finished_is_told_so_and_cannot_start_again(client, study):
    home = start(client, study, **mturk())
    complete(client, home)
    landing = client.get(reverse("survey:landing", args=[study.slug]), mturk(assignment="OTHER"))
    assert landing.status_code == 403 and b"already" in landing.content
    again = client.post(reverse("survey:start", args=[study.slug]), {**mturk(assignment="OTHER"), "consent": "on"})
    assert again.status_code == 403
    assert Participant.objects.count() == 1


def test_the_finish_page_before_the_end_leads_back_to_the_questions(client, study):
    home = start(client, study, **mturk())
    assert client.get(f"{home}finish/")["Location"].endswith("/q/1/")


def test_questions_after_the_end_lead_to_the_finish_page(client, study):
    home = start(client, study, **mturk())
    complete(client, home)
    assert client.get(question_url(home, 25))["Location"].endswith("/finish/")
    assert client.get(home)["Location"].endswith("/finish/")


def test_consent_must_be_given(client, study):
    response = client.post(reverse("survey:start", args=[study.slug]), mturk())
    assert response.status_code == 400 and b"tick the box" in response.content
    assert b'name="workerId" value="A1WORKER"' in response.content
    assert not Participant.objects.exists()


def test_sending_no_choice_shows_the_question_again(client, study):
    home = start(client, study, **mturk())
    page = client.get(question_url(home, 1))
    response = client.post(question_url(home, 1), {"item": item_of(page)})
    assert response.status_code == 400 and b"choose one of the images" in response.content
    assert not Answer.objects.exists()


def test_times_shown_and_answered_are_recorded(client, study):
    home = start(client, study, **mturk())
    answer(client, home, 1)
    stored = Answer.objects.get()
    assert stored.shown_at <= stored.answered_at and stored.response_ms >= 0


# --- the site root ---------------------------------------------------------------------------------


def test_the_root_is_a_neutral_page_that_sends_participants_to_their_study_link(client, db):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200 and "through the link to their study" in html
    assert reverse("survey:study_list") not in html and reverse("explainers:set_list") not in html


def test_staff_find_the_research_pages_from_the_root(staff_client):
    assert reverse("survey:study_list") in staff_client.get("/").content.decode()


# --- MTurk preview ----------------------------------------------------------------------------------


def test_the_mturk_preview_shows_instructions_and_a_disabled_sample_and_stores_nothing(client, study):
    response = client.get(
        reverse("survey:landing", args=[study.slug]), {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "3HIT"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Accept the HIT" in html and "distinguishing this particular number" in html
    assert html.count('type="radio"') == 4 and html.count(" disabled") >= 5
    assert '<fieldset class="options" disabled>' in html
    assert not Participant.objects.exists()


def test_a_preview_cannot_start(client, study):
    response = client.post(
        reverse("survey:start", args=[study.slug]),
        {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "3HIT", "consent": "on"},
    )
    assert response.status_code == 400 and not Participant.objects.exists()


# --- framing ------------------------------------------------------------------------------------------


def test_participant_pages_may_be_framed_by_mturk_only(client, study):
    home = start(client, study, **mturk())
    for url in (
        reverse("survey:landing", args=[study.slug]) + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H",
        home,
        question_url(home, 1),
    ):
        response = client.get(url)
        assert "X-Frame-Options" not in response
        csp = response["Content-Security-Policy"]
        assert "frame-ancestors https://www.mturk.com https://workersandbox.mturk.com;" in csp
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert (
            "form-action 'self' https://www.mturk.com https://workersandbox.mturk.com https://app.prolific.com;" in csp
        )
        assert "no-store" in response["Cache-Control"]


def test_participant_error_pages_are_framable_too(client, study):
    response = client.get("/s/nosuchstudy/")
    assert response.status_code == 404 and "frame-ancestors" in response["Content-Security-Policy"]


def test_other_pages_refuse_framing(client, admin_client, study):
    assert client.get("/admin/login/")["X-Frame-Options"] == "DENY"
    assert admin_client.get(reverse("survey:monitor", args=[study.slug]))["X-Frame-Options"] == "DENY"


def test_the_flow_needs_no_cookie(client, study):
    home = start(client, study, **mturk())
    client.cookies.clear()
    assert client.get(question_url(home, 1)).status_code == 200
    assert not client.cookies


# --- Prolific and direct links --------------------------------------------------------------------------


@pytest.fixture
def prolific_study(study):
    Study.objects.filter(pk=study.pk).update(accept_prolific=True, prolific_completion_code="PASSCODE")
    study.refresh_from_db()
    return study


PROLIFIC = {"PROLIFIC_PID": "5f1a2b3c4d", "STUDY_ID": "st1", "SESSION_ID": "se1"}


def test_a_prolific_participant_is_sent_back_with_the_completion_code(client, prolific_study):
    home = start(client, prolific_study, **PROLIFIC)
    participant = Participant.objects.get()
    assert (participant.platform, participant.prolific_study_id, participant.prolific_session_id) == (
        "prolific",
        "st1",
        "se1",
    )
    complete(client, home, participant, pick=passing)
    finish = client.get(f"{home}finish/")
    assert finish.status_code == 302
    assert finish["Location"] == "https://app.prolific.com/submissions/complete?cc=PASSCODE"


def test_a_prolific_participant_who_failed_the_checks_gets_the_failed_code_if_set(client, prolific_study):
    Study.objects.filter(pk=prolific_study.pk).update(prolific_failed_code="FAILCODE")
    home = start(client, prolific_study, **PROLIFIC)
    participant = Participant.objects.get()
    complete(client, home, participant, pick=lambda p, pos: (correct_position(p, pos) or 1) % 4 + 1)
    assert client.get(f"{home}finish/")["Location"].endswith("cc=FAILCODE")


def test_without_a_failed_code_everyone_gets_the_completion_code(client, prolific_study):
    home = start(client, prolific_study, **PROLIFIC)
    participant = Participant.objects.get()
    complete(client, home, participant, pick=lambda p, pos: (correct_position(p, pos) or 1) % 4 + 1)
    assert client.get(f"{home}finish/")["Location"].endswith("cc=PASSCODE")


def test_a_direct_link_gives_an_id_and_shows_a_completion_code(client, study):
    home = start(client, study, **{})
    participant = Participant.objects.get()
    assert participant.platform == "direct"
    finish = complete(client, home)
    html = finish.content.decode()
    assert participant.completion_code in html and str(participant.public_id) in html


def test_a_direct_participant_who_returns_resumes_through_the_cookie(client, study):
    home = start(client, study, **{})
    answer(client, home, 1)
    landing = client.get(reverse("survey:landing", args=[study.slug]))
    assert b"Welcome back" in landing.content
    again = start(client, study, **{})
    assert client.get(again)["Location"].endswith("/q/2/")
    assert Participant.objects.count() == 1


# --- bad input ------------------------------------------------------------------------------------------


def test_an_unknown_study_is_a_404_page(client, db):
    response = client.get("/s/nosuchstudy/")
    assert response.status_code == 404 and b"No such study" in response.content


@pytest.mark.parametrize("status", ["draft", "closed"])
def test_a_study_that_is_not_open_says_so(client, study, status):
    services.set_study_status(study, status)
    response = client.get(reverse("survey:landing", args=[study.slug]), mturk())
    assert response.status_code == 403 and b"not taking participants" in response.content
    assert client.post(reverse("survey:start", args=[study.slug]), {**mturk(), "consent": "on"}).status_code == 403
    assert not Participant.objects.exists()


def test_a_participant_who_started_may_finish_after_the_study_closes(client, study):
    home = start(client, study, **mturk())
    services.set_study_status(study, "closed")
    complete(client, home)
    assert Participant.objects.get().is_finished


@pytest.mark.parametrize(
    "params",
    [
        {**mturk(), "workerId": ""},
        {**mturk(), "workerId": "bad id!"},
        {**mturk(), "turkSubmitTo": "https://attacker.example"},
        {**mturk(), "PROLIFIC_PID": "x"},
    ],
)
def test_missing_or_malformed_ids_are_a_400_page(client, study, params, caplog):
    response = client.get(reverse("survey:landing", args=[study.slug]), params)
    assert response.status_code == 400 and b"incomplete or damaged" in response.content
    assert client.post(reverse("survey:start", args=[study.slug]), {**params, "consent": "on"}).status_code == 400
    assert not Participant.objects.exists()
    assert "400" in caplog.text


def test_a_forged_token_is_refused(client, study):
    home = start(client, study, **mturk())
    token = home.split("/p/")[1].rstrip("/")
    forged = home.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    assert client.get(forged).status_code == 403
    page = client.get(question_url(home, 1))
    response = client.post(question_url(forged, 1), {"item": item_of(page), "choice": 1})
    assert response.status_code == 403 and b"not valid" in response.content
    assert not Answer.objects.exists()


def test_a_token_of_another_study_is_refused(client, study, explanation_set):
    other = make_study(explanation_set, slug="s2")
    home = start(client, study, **mturk())
    assert client.get(home.replace(f"/s/{study.slug}/", f"/s/{other.slug}/")).status_code == 403


def test_a_token_of_an_unknown_participant_is_refused(client, study):
    import uuid

    url = reverse("survey:home", args=[study.slug, make_token(uuid.uuid4())])
    assert client.get(url).status_code == 403


def test_a_tampered_item_field_is_refused_and_logged(client, study, caplog):
    home = start(client, study, **mturk())
    client.get(question_url(home, 1))
    other_item = SheetEntry.objects.get(position=2).item_id
    response = client.post(question_url(home, 1), {"item": other_item, "choice": 1})
    assert response.status_code == 400 and b"not on your sheet" in response.content
    assert not Answer.objects.exists() and "tampered" in caplog.text


@pytest.mark.parametrize("choice", ["0", "5", "abc", "-1"])
def test_a_position_out_of_range_is_refused(client, study, choice):
    home = start(client, study, **mturk())
    page = client.get(question_url(home, 1))
    response = client.post(question_url(home, 1), {"item": item_of(page), "choice": choice})
    assert response.status_code == 400 and not Answer.objects.exists()


def test_another_participants_post_replayed_with_my_token_is_refused(client, study):
    mine = start(client, study, **mturk("W1", "A1"))
    theirs = start(client, study, **mturk("W2", "A2"))
    their_page = client.get(question_url(theirs, 1))
    client.get(question_url(mine, 1))
    their_item = item_of(their_page)
    my_item = SheetEntry.objects.get(participant__worker_id="W1", position=1).item_id
    response = client.post(question_url(mine, 1), {"item": their_item, "choice": 1})
    if their_item == my_item:  # same first item by chance: then it is simply my answer
        assert response.status_code == 303
    else:
        assert response.status_code == 400
    assert not Answer.objects.filter(participant__worker_id="W2").exists()


def test_answering_ahead_of_the_order_is_refused(client, study):
    home = start(client, study, **mturk())
    client.get(question_url(home, 1))
    ahead = SheetEntry.objects.get(position=5)
    response = client.post(question_url(home, 5), {"item": ahead.item_id, "choice": 1})
    assert response.status_code == 409 and not Answer.objects.exists()


def test_a_get_cannot_start_a_participation(client, study):
    client.get(reverse("survey:start", args=[study.slug]), {**mturk(), "consent": "on"})
    assert not Participant.objects.exists()


# --- images -------------------------------------------------------------------------------------------


def test_a_question_page_carries_its_options_pictures_in_the_page_in_sheet_order(client, study):
    home = start(client, study, **mturk())
    html = client.get(question_url(home, 1)).content.decode()
    entry = SheetEntry.objects.get(position=1)
    shown = entry.shown.order_by("position").select_related("option__image")
    assert DATA_URL.findall(html) == [picture(s.option.key) for s in shown]
    for s in shown:
        assert png_of(picture(s.option.key)) == keyed_png(bytes(s.option.image.png), s.option.key)
    assert "/s/img/" not in html


def test_the_mturk_preview_shows_its_sample_in_a_fresh_order_each_time(client, study):
    url = reverse("survey:landing", args=[study.slug]) + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H"
    orders = {tuple(DATA_URL.findall(client.get(url).content.decode())) for _ in range(12)}
    assert len(orders) > 1  # the same order twelve times: 1 in 24**11


def test_pictures_are_not_served_apart_any_more(client, study):
    option = ItemOption.objects.filter(item__study=study).first()
    assert client.get(f"/s/img/{option.key}.png").status_code == 404
