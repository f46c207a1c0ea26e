"""Builders for tests and the load benchmark: an explanation set of random maps, studies, answers.

Not used by the site itself. Random maps stand in for generated explanations so that tests and
benchmarks need neither a trained model nor MNIST.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache

import numpy as np

from explainers import render
from explainers.methods import registry
from explainers.models import ClassMap, ExplanationSet

from . import export, services
from .models import Item, Participant, ShownOption, Study

MTURK_SANDBOX = "https://workersandbox.mturk.com"


@cache
def _method_maps(method: str) -> dict[int, tuple[bytes, bytes]]:
    """Random maps of one method's ten digits (seeded by the name: the same maps whatever set they are in)."""
    rng = np.random.default_rng(list(method.encode()))
    out = {}
    for digit in range(10):
        values = rng.random(784, dtype=np.float32)
        out[digit] = (values.tobytes(), render.map_png(values))
    return out


@lru_cache(maxsize=1)
def fake_pictures() -> tuple[np.ndarray, np.ndarray]:
    """Stand-ins for typical and mean MNIST digits: a bright bar at a digit-specific row."""
    typical = np.zeros((10, 784), dtype=np.float32)
    for digit in range(10):
        img = np.zeros((28, 28), dtype=np.float32)
        img[4 + 2 * digit : 6 + 2 * digit, 6:22] = 1.0
        img[6:22, 12:15] = 0.5
        typical[digit] = img.ravel()
    return typical, typical * 0.8


def make_explanation_set(name: str = "test-set", methods: Sequence[str] | None = None) -> ExplanationSet:
    """An explanation set with random non-negative maps of ``methods`` (default: the paper's four)."""
    explanation_set = ExplanationSet.objects.create(
        name=name,
        directory="/nonexistent",
        model_sha256="0" * 64,
        data_source="random maps (testing)",
        overview_png=b"",
    )
    ClassMap.objects.bulk_create(
        ClassMap(explanation_set=explanation_set, method=method, digit=digit, values=values, png=png)
        for method in (registry.names(paper=True) if methods is None else methods)
        for digit, (values, png) in _method_maps(method).items()
    )
    return explanation_set


def make_study(explanation_set: ExplanationSet, slug: str = "s1", **kwargs) -> Study:
    kwargs.setdefault("status", Study.Status.OPEN)
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("pictures", fake_pictures())
    return services.create_study(explanation_set, name=f"Study {slug}", slug=slug, **kwargs)


def mturk_params(
    worker: str = "WORKER1", assignment: str = "ASSIGN1", hit: str = "HIT1", submit_to: str = MTURK_SANDBOX
) -> services.EntryParams:
    return services.EntryParams(
        platform=Participant.Platform.MTURK,
        worker_id=worker,
        assignment_id=assignment,
        hit_id=hit,
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


LONG_CSV_START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def long_csv(study: Study, people: list[dict], seed: int = 0) -> str:
    """Rows as export_responses writes them for ``people``, made without the survey (so quickly).

    Each person is a dict with ``votes`` (index into ``study.methods`` per real item, in item
    order), ``checks`` (right or not, per check in item order) and optionally ``answered`` (fewer
    than all: unfinished), ``id``, ``platform``, ``kind`` and the platform's ids (``export.IDENTITY_COLUMNS``).
    """
    methods, n_options = list(study.methods), study.n_options
    header = export.columns(n_options)
    rng = np.random.default_rng(seed)
    items = list(Item.objects.filter(study=study).order_by("number").values_list("number", "kind", "digit"))
    real = [i for i in items if i[1] == Item.Kind.REAL]
    checks = [i for i in items if i[1] == Item.Kind.ATTENTION]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for k, person in enumerate(people):
        answered = person.get("answered", len(items))
        finished = answered == len(items)
        passed = sum(person["checks"])
        order = rng.permutation(len(items))
        start = LONG_CSV_START + timedelta(hours=k)
        for position, index in enumerate(order[:answered], start=1):
            number, kind, digit = items[index]
            row = dict.fromkeys(header)
            row.update(
                study="elsewhere",
                participant=person.get("id", f"00000000-0000-4000-8000-{k:012d}"),
                platform=person.get("platform", Participant.Platform.DIRECT),
                participant_kind=person.get("kind", Participant.Kind.REAL),
                participant_status=Participant.Status.FINISHED if finished else Participant.Status.STARTED,
                participant_checks_passed=passed if finished else None,
                participant_passed=services.passes_checks(study, passed) if finished else None,
                position=position,
                item_number=number,
                kind=kind,
                digit=digit,
                shown_at=start + timedelta(seconds=10 * position),
                answered_at=start + timedelta(seconds=10 * position + 4),
                response_ms=4000,
            )
            row.update({column: person.get(column, "") for column in export.IDENTITY_COLUMNS})
            if kind == Item.Kind.REAL:
                shown = [methods[m] for m in rng.permutation(n_options)]
                method = methods[person["votes"][real.index(items[index])]]
                row.update(
                    {f"method_at_{p}": m for p, m in enumerate(shown, start=1)},
                    chosen_position=shown.index(method) + 1,
                    chosen_method=method,
                )
            else:
                right = person["checks"][checks.index(items[index])]
                correct = int(rng.integers(1, n_options + 1))
                row.update(
                    correct_position=correct,
                    chosen_position=correct if right else (correct % n_options) + 1,
                    check_passed=right,
                )
            writer.writerow([export.csv_cell(row[c]) for c in header])
    return out.getvalue()
