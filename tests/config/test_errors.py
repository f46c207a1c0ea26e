"""The site's error handler: a database that is away gets a 503 "try again" page, nothing is lost."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client
from django.urls import reverse

from config import errors
from survey import services
from survey.models import Answer
from survey.testing import make_explanation_set, make_study, mturk_params
from survey.tokens import make_token


@pytest.fixture
def participant(db):
    study = make_study(make_explanation_set())
    p, _ = services.start_participant(study, mturk_params("W-ERR", "A-ERR"))
    return p


def _question_url(participant, position):
    return reverse(
        "survey:question",
        kwargs={"slug": participant.study.slug, "token": make_token(participant.public_id), "position": position},
    )


def _away(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_an_answer_that_meets_the_database_away_gets_a_503_with_retry_after_and_is_stored_once_when_sent_again(
    participant, monkeypatch
):
    client = Client(raise_request_exception=False)
    url = _question_url(participant, 1)
    page = client.get(url)
    item = services.show_question(participant, 1).item_id
    monkeypatch.setattr(services, "record_answer", _away)

    away = client.post(url, {"item": item, "choice": 2})

    assert away.status_code == 503
    assert away["Retry-After"] == str(errors.RETRY_AFTER_S)
    assert away["Cache-Control"] == "no-store"
    body = away.content.decode()
    assert errors.TITLE in body
    assert f'http-equiv="refresh" content="{errors.RETRY_AFTER_S}"' in body
    assert "Traceback" not in body and "OperationalError" not in body
    assert not Answer.objects.filter(participant=participant).exists()

    monkeypatch.undo()
    again = client.post(url, {"item": item, "choice": 2})
    assert page.status_code == 200
    assert again.status_code == 303
    assert list(Answer.objects.filter(participant=participant).values_list("position", flat=True)) == [2]


def test_a_question_page_that_meets_the_database_away_gets_the_503_page(participant, monkeypatch):
    monkeypatch.setattr(services, "current_question", _away)

    response = Client(raise_request_exception=False).get(_question_url(participant, 1))

    assert response.status_code == 503
    assert response["Retry-After"] == str(errors.RETRY_AFTER_S)


def test_any_other_error_keeps_the_plain_500_page(participant, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(services, "current_question", broken)

    response = Client(raise_request_exception=False).get(_question_url(participant, 1))

    assert response.status_code == 500
    assert not response.has_header("Retry-After")


def test_the_database_counts_as_away_when_a_driver_error_caused_the_one_raised():
    try:
        try:
            raise InterfaceError("connection already closed")
        except InterfaceError as inner:
            raise RuntimeError("while rendering") from inner
    except RuntimeError as outer:
        assert errors.database_away(outer)
    assert not errors.database_away(ValueError("x"))
    assert not errors.database_away(None)
