"""delete_participants: pilot and simulated participants go, real ones never."""

import io

import pytest
from django.core.management import CommandError, call_command

from survey import services
from survey.models import Participant

pytestmark = pytest.mark.django_db


def _simulated(study) -> None:
    participant, _ = services.start_participant(study, services.EntryParams(platform="direct"))
    Participant.objects.filter(pk=participant.pk).update(kind=Participant.Kind.SIMULATED)


def test_the_command_deletes_the_kinds_named_and_says_how_many(study):
    services.start_pilot(study)
    services.start_pilot(study)
    _simulated(study)
    services.start_participant(study, services.EntryParams(platform="direct"))
    out = io.StringIO()
    call_command("delete_participants", study.slug, "--kind", "pilot,simulated", stdout=out)
    assert "Deleted 3 participants of s1 (2 pilot, 1 simulated)." in out.getvalue()
    assert list(Participant.objects.values_list("kind", flat=True)) == ["real"]


def test_naming_real_is_a_one_line_error_and_deletes_nothing(study):
    services.start_pilot(study)
    with pytest.raises(CommandError, match="real participants can never be deleted"):
        call_command("delete_participants", study.slug, "--kind", "pilot,real")
    assert Participant.objects.count() == 1


def test_an_unknown_kind_is_a_one_line_error(study):
    with pytest.raises(CommandError, match="kind 'robot' is not one of pilot, simulated"):
        call_command("delete_participants", study.slug, "--kind", "robot")


def test_an_unknown_study_is_a_one_line_error(db):
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("delete_participants", "nope", "--kind", "pilot")
