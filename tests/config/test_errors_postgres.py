"""Faults on PostgreSQL: a dropped connection is replaced by itself, a killed worker leaves no partial answer.

A real server-side disconnect and a real SIGKILL are needed, so these run only on PostgreSQL
(`make test-postgres`, which CI runs); on SQLite they skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse

from config import errors
from survey import services
from survey.models import Answer, Participant
from survey.testing import make_explanation_set, make_study, mturk_params
from survey.tokens import make_token

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs a PostgreSQL server to drop connections and a backend to kill (set DATABASE_URL)",
    ),
]


@pytest.fixture
def participant():
    p, _ = services.start_participant(make_study(make_explanation_set()), mturk_params("W-PG", "A-PG"))
    return p


def _test_database_url() -> str:
    """The test database, for another connection or another process."""
    s = connection.settings_dict
    return f"postgresql://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _serve(path: str) -> tuple[int, dict[str, str]]:
    """One request through the real WSGI handler, which (unlike the test client) sends request_started,
    where Django closes a kept connection that failed its health check."""
    environ = RequestFactory().get(path).environ
    answer = {}

    def start_response(status, headers):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(headers)

    body = WSGIHandler()(environ, start_response)
    b"".join(body)
    body.close()  # sends request_finished, as a server does
    return answer["status"], answer["headers"]


def _drop_this_threads_connection() -> None:
    """The database ends our backend, as a restart or a failover does."""
    pid = connection.connection.info.backend_pid
    with psycopg.connect(_test_database_url(), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


def _question_path(participant) -> str:
    token = make_token(participant.public_id)
    return reverse("survey:question", kwargs={"slug": participant.study.slug, "token": token, "position": 1})


@pytest.fixture
def kept_connections(monkeypatch):
    """Connections kept between requests, as production keeps them (CONN_MAX_AGE)."""
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    yield
    connection.close()


def test_a_kept_connection_the_database_dropped_is_replaced_before_the_next_request_uses_it(
    participant, kept_connections
):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True  # the production settings
    path = _question_path(participant)
    assert _serve(path)[0] == 200
    _drop_this_threads_connection()

    status, _ = _serve(path)

    assert status == 200


def test_without_health_checks_the_dropped_connection_gets_the_503_page_and_the_next_request_reconnects(
    participant, kept_connections, monkeypatch
):
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    path = _question_path(participant)
    assert _serve(path)[0] == 200
    _drop_this_threads_connection()

    status, headers = _serve(path)

    assert status == 503
    assert headers["Retry-After"] == str(errors.RETRY_AFTER_S)
    assert _serve(path)[0] == 200  # Django closed the broken connection at the end of that request


CHILD = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from django.db import connection
    from survey import services
    from survey.models import Participant

    participant = Participant.objects.select_related("study").get(pk=int(sys.argv[1]))
    position = int(sys.argv[2])

    def stall_after_the_answer_is_written(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith('INSERT INTO "SURVEY_ANSWER"'):
            print("written, not committed", flush=True)
            time.sleep(120)  # the parent kills us here
        return result

    question = services.show_question(participant, position)
    with connection.execute_wrapper(stall_after_the_answer_is_written):
        services.record_answer(participant, position, question.item_id, 1)
    print("committed", flush=True)
    """
)


def _answer(participant, position, choice=2):
    services.record_answer(participant, position, services.show_question(participant, position).item_id, choice)


def test_a_worker_killed_while_writing_the_last_answer_leaves_neither_the_answer_nor_the_finish(participant):
    total = participant.study.n_questions
    for position in range(1, total):
        _answer(participant, position)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": _test_database_url()}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(participant.pk), str(total)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "written, not committed", child.stderr.read()
        child.send_signal(signal.SIGKILL)  # what the OOM killer or a hard deploy does
    finally:
        child.wait(timeout=30)

    assert child.returncode == -signal.SIGKILL
    assert Answer.objects.filter(participant=participant).count() == total - 1
    participant.refresh_from_db()
    assert participant.status != Participant.Status.FINISHED
    _answer(participant, total)  # the participant sends it again: it is stored, once
    participant.refresh_from_db()
    assert participant.status == Participant.Status.FINISHED
    assert Answer.objects.filter(participant=participant).count() == total
