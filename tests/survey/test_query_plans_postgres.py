"""A participant's pages go by the participant's own rows: no statement scans every answer of the study.

A question page's first open question was once found by an anti-join that PostgreSQL ran as a
sequential scan of the whole answer table, 25 times a page, so each page cost more as the study
grew. The plans are PostgreSQL's, so these run only there (`make test-postgres`).
"""

from __future__ import annotations

import json
import random

import pytest
from django.db import connection

from survey import services
from survey.services import participation
from survey.testing import make_explanation_set, make_study, mturk_params

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's query plans (set DATABASE_URL)"),
]

N_DONE = 20  # participants who answered everything: 500 answers in the table


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(prepared, *args) -> list[dict]:
    compiled = prepared.compiled()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + compiled.sql, compiled.bind(args))
        (raw,) = cursor.fetchone()
    document = raw if isinstance(raw, list) else json.loads(raw)
    return list(_nodes(document[0]["Plan"]))


@pytest.fixture
def participant_half_way():
    study = make_study(make_explanation_set())
    rng = random.Random(0)
    for i in range(N_DONE + 1):
        p, _ = services.start_participant(study, mturk_params(f"PLAN{i}", f"PLANA{i}"))
        last = 13 if i == N_DONE else study.n_questions  # the last one stops half-way
        for position in range(1, last):
            question = services.show_question(p, position)
            services.record_answer(p, position, question.item_id, rng.randint(1, 4))
    return p


@pytest.mark.parametrize("query", ["_next_position", "_current_question"])
def test_finding_the_first_open_question_reads_no_answer_table_from_end_to_end(participant_half_way, query):
    prepared = getattr(participation, query)
    nodes = _plan(prepared, *[participant_half_way.pk] * len(prepared.arg_types))

    scans = [n for n in nodes if n.get("Relation Name") == "survey_answer"]

    assert scans, "the query reads the participant's answers"
    assert all(n["Node Type"] != "Seq Scan" for n in scans), [n["Node Type"] for n in scans]


def test_the_first_open_question_is_the_one_after_the_last_answer(participant_half_way):
    assert services.next_position(participant_half_way) == 13
    assert services.current_question(participant_half_way).position == 13
