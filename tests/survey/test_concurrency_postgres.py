"""Concurrency on PostgreSQL: many participants at once lose no answer and create no duplicate.

Real transactions and row locks are needed, so these tests run only on PostgreSQL (CI runs
the django_db tests again with DATABASE_URL pointing at PostgreSQL); on SQLite they skip.
"""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from survey import services
from survey.models import Answer, Participant, SheetEntry
from survey.testing import make_explanation_set, make_study, mturk_params

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL's row locks and concurrent transactions (set DATABASE_URL)",
    ),
]

N_PARTICIPANTS = 50


def _in_threads(n, work):
    """Run ``work(i)`` for i < n in n threads released together; re-raise the first error."""
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connections.close_all()  # each thread has its own connection; leave none open

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result() for f in [pool.submit(run, i) for i in range(n)]]


def _answer_everything(participant, rng, repeat=False):
    sent = {}
    while (position := services.next_position(participant)) is not None:
        question = services.show_question(participant, position)
        choice = rng.randint(1, 4)
        services.record_answer(participant, position, question.item_id, choice)
        if repeat:  # a double submit, with another choice even
            services.record_answer(participant, position, question.item_id, choice % 4 + 1)
        sent[question.item_id] = choice
    return sent


def test_fifty_participants_answering_at_once_lose_nothing_and_duplicate_nothing():
    study = make_study(make_explanation_set())

    def participant(i):
        p, _ = services.start_participant(study, mturk_params(f"W{i}", f"A{i}"))
        return p.pk, _answer_everything(p, random.Random(i), repeat=i % 5 == 0)

    results = _in_threads(N_PARTICIPANTS, participant)

    assert Participant.objects.filter(study=study, status="finished").count() == N_PARTICIPANTS
    assert Answer.objects.filter(participant__study=study).count() == N_PARTICIPANTS * 25
    for pk, sent in results:
        stored = dict(Answer.objects.filter(participant_id=pk).values_list("item_id", "position"))
        assert stored == sent  # every answer sent is stored, exactly once, with the first choice


def test_racing_double_submits_and_double_starts_keep_one_of_each():
    study = make_study(make_explanation_set())
    n_workers, racers = 10, 3

    def racer(i):
        worker = i // racers  # three threads per worker: started and answered at the same moment
        p, _ = services.start_participant(study, mturk_params(f"R{worker}", f"RA{worker}"))
        return worker, p.pk, _answer_everything(p, random.Random(i))

    results = _in_threads(n_workers * racers, racer)

    assert Participant.objects.filter(study=study).count() == n_workers
    for worker in range(n_workers):
        pks = {pk for w, pk, _ in results if w == worker}
        assert len(pks) == 1
        pk = pks.pop()
        assert Answer.objects.filter(participant_id=pk).count() == 25
        assert SheetEntry.objects.filter(participant_id=pk).count() == 25
        stored = dict(Answer.objects.filter(participant_id=pk).values_list("item_id", "position"))
        offered = [sent for w, _, sent in results if w == worker]
        for item_id, position in stored.items():  # the stored choice is one a racer actually sent
            assert any(sent.get(item_id) == position for sent in offered)
