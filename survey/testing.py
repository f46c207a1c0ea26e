"""Builders for tests and the load benchmark: an explanation set of random maps, studies, answers.

Not used by the site itself. Random maps stand in for generated explanations so that tests and
benchmarks need neither a trained model nor MNIST.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache, partial

import numpy as np

from explainers import render
from explainers.data import CLASS_NOUN, MNIST_CLASSES, MNIST_SHAPE, layout_of
from explainers.methods import registry
from explainers.models import ClassMap, ExplanationSet

from . import attention, export, services
from .models import Item, Participant, ShownOption, Study

MTURK_SANDBOX = "https://workersandbox.mturk.com"


@cache
def _method_maps(method: str, n_classes: int, map_shape: tuple[int, int]) -> dict[int, tuple[bytes, bytes]]:
    """Random maps of one method's classes (seeded by the name: the same maps whatever set they are in)."""
    rng = np.random.default_rng(list(method.encode()))
    out = {}
    for digit in range(n_classes):
        values = rng.random(map_shape[0] * map_shape[1], dtype=np.float32)
        png = render.map_png(values) if map_shape == MNIST_SHAPE[1:] else attention.class_png(values, (1, *map_shape))
        out[digit] = (values.tobytes(), png)
    return out


@lru_cache(maxsize=4)
def fake_pictures(shape: tuple[int, int, int] = MNIST_SHAPE, n_classes: int = len(MNIST_CLASSES)):
    """Stand-ins for typical and mean images of each class (MNIST's digits by default): a bright bar at a
    class-specific row (a class-specific colour for colour images) across a dimmer stroke."""
    channels, height, width = shape
    typical = np.zeros((n_classes, channels, height, width), dtype=np.float32)
    for digit in range(n_classes):
        row = 4 + 2 * digit if shape == MNIST_SHAPE else round(digit * (height - 2) / max(1, n_classes - 1))
        h, w = (height / MNIST_SHAPE[1], width / MNIST_SHAPE[2])  # MNIST's pixels in this image's
        typical[digit, :, row : row + 2, int(6 * w) : int(22 * w)] = 1.0
        typical[digit, :, int(6 * h) : int(22 * h), int(12 * w) : int(15 * w)] = 0.5
        if channels > 1:
            typical[digit, digit % channels] *= 0.2  # a colour of its own
    typical = typical.reshape(n_classes, -1)
    return typical, typical * 0.8


#: A data set other than MNIST's, for tests: three named RGB classes of 12 x 16 pixels.
OTHER_CLASSES = ("cat", "dog", "owl")
OTHER_SHAPE = (3, 12, 16)


def make_explanation_set(
    name: str = "test-set",
    methods: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    shape: Sequence[int] | None = None,
) -> ExplanationSet:
    """An explanation set with random non-negative maps of ``methods`` (default: the paper's four), of
    ``classes`` (names in label order) of images of ``shape`` (C, H, W): MNIST's unless given."""
    layout = layout_of(None)
    if classes is not None or shape is not None:
        layout.update(classes=list(classes or MNIST_CLASSES), shape=list(shape or MNIST_SHAPE), noun=CLASS_NOUN)
    explanation_set = ExplanationSet.objects.create(
        name=name,
        directory="/nonexistent",
        model_sha256="0" * 64,
        data_source="random maps (testing)",
        overview_png=b"",
        layout=layout,
    )
    maps_of = partial(_method_maps, n_classes=len(layout["classes"]), map_shape=tuple(layout["shape"][1:]))
    ClassMap.objects.bulk_create(
        ClassMap(explanation_set=explanation_set, method=method, digit=digit, values=values, png=png)
        for method in (registry.names(paper=True) if methods is None else methods)
        for digit, (values, png) in maps_of(method).items()
    )
    return explanation_set


def make_study(explanation_set: ExplanationSet, slug: str = "s1", **kwargs) -> Study:
    kwargs.setdefault("status", Study.Status.OPEN)
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("pictures", fake_pictures(tuple(explanation_set.layout["shape"]), explanation_set.n_classes))
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
                class_name=study.class_name(digit),
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
