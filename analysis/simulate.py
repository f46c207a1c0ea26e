"""Synthetic participants for pilot runs and the demo, driven through the survey's own services.

Each simulated participant enters through the direct link (``start_participant``, as a
participant of kind ``simulated``: the analysis counts them only when told to), is shown
each question (``current_question``), answers it (``record_answer``, which finishes the
participation after the last answer) -- exactly the path a browser takes, so the sheet,
constraints and scoring are the survey's own. The simulated person "looks at" the images on
screen: a real question's images are the methods' maps, an attention check's correct picture
is the one showing the asked digit.

Two kinds of participant:

* attentive: their own preference is drawn around the study-wide ``preference``
  (Dirichlet with ``concentration``; infinity = everyone has exactly ``preference``) and each
  real question is a draw from it; each attention check is right unless they slip
  (``slip_rate``);
* careless (a ``fail_rate`` share, spread evenly): every answer uniformly at random, so they
  pass 4 of 5 checks by luck only 1.6% of the time.

A study of other methods than the paper's four gets, unless told otherwise,
:func:`default_preference`: the paper's shares for those of its methods the study compares,
and for each other method the share of the paper's least preferred method (SmoothGrad², 0.08:
a new method is assumed no better liked than the gradient methods), rescaled to sum to 1;
uniform if the study has none of the paper's methods.

The default concentration, 26, is calibrated on the paper: with the paper's shares and 20
questions, per-participant shares then vary as much as the paper's F = 338 at 83 surveys
implies (within-method variance 0.0126, 1.7 times a plain multinomial's).

Participant k's answers come from ``numpy.random.default_rng([seed, k])`` and are drawn up
front in item order, so they do not depend on the order of their (randomly shuffled) sheet,
and topping a study up to N gives the same votes as creating N at once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from explainers.methods import registry
from explainers.methods.registry import paper_preference
from survey import services
from survey.models import Item, ItemOption, Participant, ShownOption, Study

logger = logging.getLogger(__name__)

#: The paper's vote shares (939 / 438 / 132 / 151 of 1,660), rounded as in the issue.
PAPER_PREFERENCE: dict[str, float] = paper_preference()
#: The same as a command-line default, "normlime=0.57,lime=0.26,smoothgrad=0.08,vargrad=0.09".
PAPER_PREFERENCE_TEXT = ",".join(f"{m}={share:g}" for m, share in PAPER_PREFERENCE.items())
DEFAULT_CONCENTRATION = 26.0
DEFAULT_SLIP_RATE = 0.02


class SimulationError(ValueError):
    """Bad simulation parameters (one line, for a CommandError)."""


def default_preference(methods: Sequence[str]) -> dict[str, float]:
    """The shares simulated participants vote by in a study of ``methods`` (see the module's text)."""
    paper_share = {m: PAPER_PREFERENCE[m] for m in registry.names(paper=True)}
    if not any(m in paper_share for m in methods):
        return {m: 1 / len(methods) for m in methods}
    floor = min(paper_share.values())
    raw = {m: paper_share.get(m, floor) for m in methods}
    total = sum(raw.values())
    return {m: v / total for m, v in raw.items()}


def parse_preference(text: str, methods: Sequence[str] | None = None) -> dict[str, float]:
    """``"normlime=0.57,lime=0.26,vargrad=0.09,smoothgrad=0.08"`` -> shares per method of ``methods``.

    Methods left out get 0. The shares must be non-negative and sum to 1 (within 0.01; they are
    then rescaled to sum to exactly 1). ``methods`` defaults to the paper's four.
    """
    methods = registry.names(paper=True) if methods is None else methods
    shares: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise SimulationError(f"preference {part!r}: write method=share, e.g. normlime=0.57")
        if name not in methods:
            raise SimulationError(f"preference: unknown method {name!r} (use {', '.join(methods)})")
        if name in shares:
            raise SimulationError(f"preference: {name} is given twice")
        try:
            shares[name] = float(value)
        except ValueError:
            raise SimulationError(f"preference: {name}={value!r} is not a number") from None
    return normalise_preference(shares, methods)


def normalise_preference(shares: Mapping[str, float], methods: Sequence[str] | None = None) -> dict[str, float]:
    """``shares`` over ``methods`` (in their order, 0 for those left out), rescaled to sum to 1.

    ``methods`` defaults to the paper's four.
    """
    methods = registry.names(paper=True) if methods is None else methods
    out = {m: float(shares.get(m, 0.0)) for m in methods}
    unknown = set(shares) - set(methods)
    if unknown:
        raise SimulationError(f"preference: unknown method(s) {', '.join(sorted(unknown))} (use {', '.join(methods)})")
    if any(not math.isfinite(v) or v < 0 for v in out.values()):
        raise SimulationError("preference: shares must be non-negative numbers")
    total = sum(out.values())
    if abs(total - 1) > 0.01:
        raise SimulationError(f"preference: shares sum to {total:g}, not 1")
    return {m: v / total for m, v in out.items()}


def preference_vector(preference: Mapping[str, float], methods: Sequence[str] | None = None) -> np.ndarray:
    methods = registry.names(paper=True) if methods is None else methods
    shares = normalise_preference(preference, methods)
    return np.array([shares[m] for m in methods])


def participant_preference(rng: np.random.Generator, preference: np.ndarray, concentration: float) -> np.ndarray:
    """One person's own preference: Dirichlet(concentration x preference); exact if infinite."""
    if math.isinf(concentration):
        return preference
    alpha = concentration * preference
    out = np.zeros_like(preference)
    positive = alpha > 0  # a method nobody prefers stays at 0 (Dirichlet needs alpha > 0)
    out[positive] = rng.dirichlet(alpha[positive])
    return out


def is_careless(k: int, fail_rate: float) -> bool:
    """Whether participant k (0-based) answers at random: exactly floor(N x fail_rate) of the first N are."""
    return math.floor((k + 1) * fail_rate + 1e-9) > math.floor(k * fail_rate + 1e-9)


@dataclass(frozen=True)
class Plan:
    """What participant k will answer, item by item (independent of their sheet's order)."""

    careless: bool
    votes: tuple[int, ...]  # method index per real question, in item-number order
    checks_right: tuple[bool, ...]  # per attention check, in item-number order
    wrong_picks: tuple[int, ...]  # which wrong picture (0 to k-2) a wrong check answer takes
    seconds: tuple[float, ...]  # time spent on each question, in the order shown


def plan_participant(
    k: int,
    seed: int,
    n_real: int,
    n_checks: int,
    preference: np.ndarray,
    fail_rate: float,
    concentration: float,
    slip_rate: float,
) -> Plan:
    rng = np.random.default_rng([seed, k])
    careless = is_careless(k, fail_rate)
    n_methods = len(preference)
    if careless:
        votes = rng.integers(0, n_methods, n_real)
        right = rng.random(n_checks) < 1 / n_methods  # a random pick among k is right 1 time in k
        seconds = rng.lognormal(np.log(2.5), 0.4, n_real + n_checks)
    else:
        own = participant_preference(rng, preference, concentration)
        votes = rng.choice(n_methods, size=n_real, p=own)
        right = rng.random(n_checks) >= slip_rate
        seconds = rng.lognormal(np.log(9.0), 0.5, n_real + n_checks)
    wrong = rng.integers(0, n_methods - 1, n_checks)
    return Plan(
        careless,
        tuple(int(v) for v in votes),
        tuple(bool(r) for r in right),
        tuple(int(w) for w in wrong),
        tuple(float(min(s, 120.0)) for s in seconds),
    )


@dataclass(frozen=True)
class SimulationResult:
    created: int
    passed: int  # of those created, how many passed the study's attention threshold
    careless: int  # of those created, how many answered at random
    existing: int  # simulated participants the study had before


def study_layout(study: Study) -> tuple[dict[int, tuple[str, int]], dict[str, tuple[str, int | None]]]:
    """What a participant can see: item id -> (kind, number), option key -> (method, digit of its picture)."""
    items = {
        pk: (kind, number) for pk, kind, number in Item.objects.filter(study=study).values_list("pk", "kind", "number")
    }
    images = {
        key: (method, digit)
        for key, method, digit in ItemOption.objects.filter(item__study=study).values_list(
            "key", "image__method", "image__digit"
        )
    }
    return items, images


def _answer_position(
    question: services.Question,
    plan: Plan,
    item_index: int,
    kind: str,
    images: dict[str, tuple[str, int | None]],
    methods: Sequence[str],
) -> int:
    """The on-screen position (1 to k) this participant picks for ``question``."""
    if kind == Item.Kind.REAL:
        method = methods[plan.votes[item_index]]
        on_screen = [images[key][0] for key in question.option_keys]
        return on_screen.index(method) + 1
    right = [p for p, key in enumerate(question.option_keys, start=1) if images[key][1] == question.digit]
    if len(right) != 1:  # pictures not labelled with their digit: ask the sheet which one is correct
        right = list(
            ShownOption.objects.filter(entry_id=question.entry_id, option__is_correct=True).values_list(
                "position", flat=True
            )
        )
    if plan.checks_right[item_index]:
        return right[0]
    wrong = [p for p in range(1, len(question.option_keys) + 1) if p != right[0]]
    return wrong[plan.wrong_picks[item_index] % len(wrong)]


def simulate_participant(study: Study, plan: Plan, start: datetime, layout=None) -> Participant:
    """Take the survey once, through the services, as ``plan`` says.

    One question is answered per entry of ``plan.seconds``: fewer entries than questions
    leave the participant unfinished.
    """
    items, images = layout or study_layout(study)
    real_numbers = sorted(n for kind, n in items.values() if kind == Item.Kind.REAL)
    check_numbers = sorted(n for kind, n in items.values() if kind == Item.Kind.ATTENTION)
    index = {**{n: i for i, n in enumerate(real_numbers)}, **{n: i for i, n in enumerate(check_numbers)}}
    with transaction.atomic():
        participant, _ = services.start_participant(
            study,
            services.EntryParams(platform=Participant.Platform.DIRECT),
            now=start,
            kind=Participant.Kind.SIMULATED,
        )
        now = start
        for seconds in plan.seconds:
            now += timedelta(seconds=1)  # reading the page
            question = services.current_question(participant, now=now)
            if question is None:
                break
            kind, number = items[question.item_id]
            choice = _answer_position(question, plan, index[number], kind, images, study.methods)
            now += timedelta(seconds=seconds)
            result = services.record_answer(participant, question.position, question.item_id, choice, now=now)
            if result.finished:
                break
    participant.refresh_from_db()
    return participant


def simulated_participants(study: Study):
    return Participant.objects.filter(study=study, kind=Participant.Kind.SIMULATED)


def simulate_study(
    study: Study,
    participants: int,
    preference: Mapping[str, float] | None = None,
    fail_rate: float = 0.1,
    seed: int = 0,
    *,
    top_up: bool = True,
    slip_rate: float = DEFAULT_SLIP_RATE,
    concentration: float = DEFAULT_CONCENTRATION,
    now: datetime | None = None,
) -> SimulationResult:
    """Simulated participants for ``study`` (open, accepting the direct link).

    ``top_up=True`` (for the demo): make the study have ``participants`` simulated participants
    in all, creating only the missing ones -- calling it again creates none. ``top_up=False``:
    create ``participants`` more. ``preference`` is over the study's methods (default:
    :func:`default_preference`, the paper's shares for the paper's four). Returns how many
    were created and how they did.
    """
    if participants < 0:
        raise SimulationError(f"participants {participants}: use 0 or more")
    if not 0 <= fail_rate <= 1:
        raise SimulationError(f"fail rate {fail_rate}: use 0 to 1")
    if not 0 <= slip_rate <= 1:
        raise SimulationError(f"slip rate {slip_rate}: use 0 to 1")
    if not concentration > 0:
        raise SimulationError(
            f"concentration {concentration}: use a positive number (inf: no differences between people)"
        )
    methods = tuple(study.methods)
    pref = preference_vector(default_preference(methods) if preference is None else preference, methods)
    services.check_can_start(study, services.EntryParams(platform=Participant.Platform.DIRECT))
    existing = simulated_participants(study).count()
    to_create = max(participants - existing, 0) if top_up else participants
    layout = study_layout(study)
    now = now or timezone.now()
    # Start times one second apart, early enough that everyone has finished by ``now``.
    first_start = now - timedelta(hours=1) - timedelta(seconds=to_create)
    passed = careless = 0
    for j in range(to_create):
        k = existing + j
        plan = plan_participant(
            k, seed, study.n_real_questions, study.n_attention_checks, pref, fail_rate, concentration, slip_rate
        )
        participant = simulate_participant(study, plan, first_start + timedelta(seconds=j), layout)
        passed += bool(participant.passed)
        careless += plan.careless
    logger.info("simulated %s participants in study %s (%s passed the checks)", to_create, study.slug, passed)
    return SimulationResult(created=to_create, passed=passed, careless=careless, existing=existing)
