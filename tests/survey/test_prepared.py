"""survey.prepared: the ORM's SQL compiled once per connection, later calls binding new values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from survey import services
from survey.models import Participant, SheetEntry
from survey.prepared import PreparedQuery, update_query
from survey.testing import make_explanation_set, make_study, mturk_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant():
    study = make_study(make_explanation_set(), slug="prepared", status="open")
    return services.start_participant(study, mturk_params(worker="W-PREPARED"))[0]


def test_it_returns_the_rows_the_queryset_would_for_each_new_value(participant):
    by_position = PreparedQuery(
        lambda pid, position: SheetEntry.objects.filter(participant_id=pid, position=position).values_list("item_id"),
        int,
        int,
    )
    for position in (1, 2, 25):
        assert by_position(participant.pk, position) == list(
            SheetEntry.objects.filter(participant=participant, position=position).values_list("item_id")
        )
    assert by_position(participant.pk, 26) == []


def test_it_binds_uuids_and_strings_as_the_backend_stores_them(participant):
    lookup = PreparedQuery(
        lambda public_id, worker: Participant.objects.filter(public_id=public_id, worker_id=worker).values_list("pk"),
        uuid.UUID,
        str,
    )
    assert lookup(participant.public_id, "W-PREPARED") == [(participant.pk,)]
    assert lookup(participant.public_id, "someone else") == []
    assert lookup(uuid.uuid4(), "W-PREPARED") == []


def test_it_applies_the_orms_converters_to_what_it_reads(participant):
    started = PreparedQuery(lambda pid: Participant.objects.filter(pk=pid).values_list("started_at"), int)
    ((value,),) = started(participant.pk)
    assert isinstance(value, datetime) and value == Participant.objects.get(pk=participant.pk).started_at


def test_an_update_binds_a_datetime_and_returns_the_rows_changed(participant):
    mark = PreparedQuery(
        lambda entry_id, now: update_query(SheetEntry.objects.filter(pk=entry_id, shown_at__isnull=True), shown_at=now),
        int,
        datetime,
    )
    entry = SheetEntry.objects.get(participant=participant, position=1)
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert mark(entry.pk, when) == 1
    assert mark(entry.pk, when + timedelta(hours=1)) == 0  # the condition still holds: the first time stays
    entry.refresh_from_db()
    assert entry.shown_at == when


def test_it_compiles_once_per_connection(participant, monkeypatch):
    query = PreparedQuery(lambda pid: Participant.objects.filter(pk=pid).values_list("status"), int)
    query(participant.pk)
    builds = []
    monkeypatch.setattr(query, "build", lambda *args: builds.append(args))
    assert query(participant.pk) == [("started",)]
    assert builds == []
    assert connections["default"].__dict__[query._attr] is query.compiled()


def test_it_refuses_an_argument_that_is_not_one_plain_value_in_the_sql(participant):
    twice = PreparedQuery(lambda pid: Participant.objects.filter(pk=pid, study_id=pid).values_list("pk"), int)
    with pytest.raises(ImproperlyConfigured, match="2 times"):
        twice(participant.pk)
    unused = PreparedQuery(lambda pid: Participant.objects.values_list("pk"), int)
    with pytest.raises(ImproperlyConfigured, match="0 times"):
        unused(participant.pk)


def test_a_new_query_never_gets_the_compiled_sql_of_a_freed_one_at_the_same_address(participant):
    first = PreparedQuery(lambda pid: Participant.objects.filter(pk=pid).values_list("status"), int)
    assert first(participant.pk) == [("started",)]
    attrs = {first._attr}
    del first
    for _ in range(50):  # CPython often gives a freed object's address to the next one
        later = PreparedQuery(lambda pid: Participant.objects.values_list("pk"), int)
        assert later._attr not in attrs
        attrs.add(later._attr)
        with pytest.raises(ImproperlyConfigured, match="0 times"):
            later(participant.pk)


def test_it_refuses_argument_types_it_cannot_bind():
    floats = PreparedQuery(lambda x: Participant.objects.filter(pk=x).values_list("pk"), float)
    with pytest.raises(ImproperlyConfigured, match="float"):
        floats(1.0)


def test_it_refuses_the_wrong_number_of_arguments():
    query = PreparedQuery(lambda pid: Participant.objects.filter(pk=pid).values_list("pk"), int)
    with pytest.raises(TypeError, match="1 arguments, not 2"):
        query(1, 2)
