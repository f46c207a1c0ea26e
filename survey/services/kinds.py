"""Participants by kind: deleting pilots and simulated ones (never real ones), and the Prolific id lists.

Only real participants count (the monitor, the Prolific lists, the analysis unless told
otherwise); pilots (a researcher's previews) and simulated participants can be deleted with
everything of theirs, real ones never can.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

from django.db import transaction

from ..models import Answer, Participant, SheetEntry, ShownOption, Study
from .errors import DeletionRefused

logger = logging.getLogger(__name__)


def deletable_kinds() -> tuple[str, ...]:
    """The kinds :func:`delete_participants` accepts: every kind but ``real``."""
    return tuple(kind for kind in Participant.Kind.values if kind != Participant.Kind.REAL)


def check_deletable(kinds: Iterable[str]) -> list[str]:
    """``kinds`` as a list without repeats, or :class:`DeletionRefused` naming the first one not deletable."""
    wanted = list(dict.fromkeys(kinds))
    if not wanted:
        raise DeletionRefused(f"name the kinds to delete ({', '.join(deletable_kinds())})")
    for kind in wanted:
        if kind == Participant.Kind.REAL:
            raise DeletionRefused("real participants can never be deleted (their answers are the study's data)")
        if kind not in deletable_kinds():
            raise DeletionRefused(f"kind {kind!r} is not one of {', '.join(deletable_kinds())}")
    return wanted


def delete_participants(study: Study, kinds: Iterable[str], only: Collection[int] | None = None) -> dict[str, int]:
    """Delete ``study``'s participants of ``kinds`` with their answers, sheets and shown options.

    One transaction; ``real`` (or an unknown kind) among ``kinds`` is refused with
    :class:`DeletionRefused` before anything is deleted. ``only``: just these participants (by
    primary key; those of other kinds or studies are left alone). Returns how many were
    deleted, per kind (in the order given).
    """
    wanted = check_deletable(kinds)
    with transaction.atomic():
        participants = Participant.objects.select_for_update().filter(study=study, kind__in=wanted)
        if only is not None:
            participants = participants.filter(pk__in=list(only))
        counts = dict.fromkeys(wanted, 0)
        for kind in participants.values_list("kind", flat=True):
            counts[kind] += 1
        ids = list(participants.values_list("pk", flat=True))
        # Answers protect their participant, entry and chosen option: they go first.
        Answer.objects.filter(participant_id__in=ids).delete()
        ShownOption.objects.filter(entry__participant_id__in=ids).delete()
        SheetEntry.objects.filter(participant_id__in=ids).delete()
        Participant.objects.filter(pk__in=ids).delete()
    logger.info("deleted participants of study %s: %s", study.slug, counts)
    return counts


def prolific_ids(study: Study, passed: bool) -> list[str]:
    """The Prolific ids of ``study``'s finished real Prolific participants who passed (or failed) its checks.

    Passing is the study's rule (:func:`~survey.services.answers.passes_checks`), recorded when
    each one finished. In the order they finished, as Prolific's bulk approve and reject take them.
    """
    return list(
        Participant.objects.filter(
            study=study,
            kind=Participant.Kind.REAL,
            platform=Participant.Platform.PROLIFIC,
            status=Participant.Status.FINISHED,
            passed=passed,
        )
        .order_by("finished_at", "pk")
        .values_list("prolific_pid", flat=True)
    )
