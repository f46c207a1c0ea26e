"""Builders for tests and the load benchmark: an explanation set of random maps, studies, answers.

Not used by the site itself. Random maps stand in for generated explanations so that tests and
benchmarks need neither a trained model nor MNIST.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from explainers import render
from explainers.models import SURVEY_METHODS, ClassMap, ExplanationSet

from . import services
from .models import Participant, ShownOption, Study

MTURK_SANDBOX = "https://workersandbox.mturk.com"


@lru_cache(maxsize=1)
def _maps() -> dict[tuple[str, int], tuple[bytes, bytes]]:
    rng = np.random.default_rng(0)
    out = {}
    for method in SURVEY_METHODS:
        for digit in range(10):
            values = rng.random(784, dtype=np.float32)
            out[(method.value, digit)] = (values.tobytes(), render.map_png(values))
    return out


@lru_cache(maxsize=1)
def fake_pictures() -> tuple[np.ndarray, np.ndarray]:
    """Stand-ins for typical and mean MNIST digits: a bright bar at a digit-specific row."""
    typical = np.zeros((10, 784), dtype=np.float32)
    for digit in range(10):
        img = np.zeros((28, 28), dtype=np.float32)
        img[4 + 2 * digit: 6 + 2 * digit, 6:22] = 1.0
        img[6:22, 12:15] = 0.5
        typical[digit] = img.ravel()
    return typical, typical * 0.8


def make_explanation_set(name: str = "test-set") -> ExplanationSet:
    """An explanation set with random non-negative maps of the four survey methods."""
    explanation_set = ExplanationSet.objects.create(
        name=name, directory="/nonexistent", model_sha256="0" * 64, data_source="random maps (testing)", overview_png=b""
    )
    ClassMap.objects.bulk_create(
        ClassMap(explanation_set=explanation_set, method=method, digit=digit, values=values, png=png)
        for (method, digit), (values, png) in _maps().items()
    )
    return explanation_set


def make_study(explanation_set: ExplanationSet, slug: str = "s1", **kwargs) -> Study:
    kwargs.setdefault("status", Study.Status.OPEN)
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("pictures", fake_pictures())
    return services.create_study(explanation_set, name=f"Study {slug}", slug=slug, **kwargs)


def mturk_params(worker: str = "WORKER1", assignment: str = "ASSIGN1", hit: str = "HIT1",
                 submit_to: str = MTURK_SANDBOX) -> services.EntryParams:
    return services.EntryParams(
        platform=Participant.Platform.MTURK, worker_id=worker, assignment_id=assignment, hit_id=hit,
        turk_submit_to=submit_to,
    )


def correct_position(participant: Participant, position: int) -> int | None:
    """Where the correct picture of an attention check sits on this participant's screen (None: a real question)."""
    shown = ShownOption.objects.filter(
        entry__participant=participant, entry__position=position, option__is_correct=True
    ).first()
    return shown.position if shown else None


def answer_all(
    participant: Participant, pick: Callable[[services.Question], int] = lambda q: 1, stop_after: int | None = None
) -> list[services.AnswerResult]:
    """Answer the participant's questions in order through the services; ``pick`` gives the position chosen."""
    results = []
    while stop_after is None or len(results) < stop_after:
        position = services.next_position(participant)
        if position is None:
            break
        question = services.show_question(participant, position)
        results.append(services.record_answer(participant, position, question.item_id, pick(question)))
    return results
