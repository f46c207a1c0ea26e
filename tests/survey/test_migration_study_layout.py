"""Migration 0008_study_layout_any_classes: studies keep their set's layout; the ten-digit rules go."""

import pytest
from django.db import IntegrityError, transaction

BEFORE = [("survey", "0007_simulated_participants_kind")]
AFTER = [("survey", "0008_study_layout_any_classes")]
SHAPES = {"classes": ["circle", "square", "triangle"], "shape": [3, 32, 32], "value_range": [0.0, 1.0], "noun": "class"}


@pytest.mark.django_db(transaction=True)
def test_an_existing_study_takes_its_sets_layout_and_may_ask_about_class_ten_after(migrate_to):
    old = migrate_to(BEFORE)
    ExplanationSet = old.get_model("explainers", "ExplanationSet")
    mnist = ExplanationSet.objects.create(
        name="m", directory="/x", model_sha256="0" * 64, data_source="t", overview_png=b""
    )
    shapes = ExplanationSet.objects.create(
        name="s", directory="/x", model_sha256="0" * 64, data_source="t", overview_png=b"", layout=SHAPES
    )
    Study = old.get_model("survey", "Study")
    Study.objects.create(name="m", slug="m", explanation_set=mnist)
    study = Study.objects.create(name="s", slug="s", explanation_set=shapes)
    Item = old.get_model("survey", "Item")
    with pytest.raises(IntegrityError), transaction.atomic():  # before: digits 0 to 9
        Item.objects.create(study=study, number=1, kind="real", digit=10)

    new = migrate_to(AFTER)
    Study = new.get_model("survey", "Study")
    assert Study.objects.get(slug="s").layout == SHAPES
    assert Study.objects.get(slug="m").layout["classes"] == [str(d) for d in range(10)]
    Study.objects.filter(slug="s").update(n_real_questions=12)  # not a multiple of 10: now the service's rule
    new.get_model("survey", "Item").objects.create(study_id=study.pk, number=1, kind="real", digit=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(slug="s").update(n_real_questions=191)
