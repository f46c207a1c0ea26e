"""Migration 0005_study_methods: existing studies compare the paper's four methods."""

import pytest
from django.db import IntegrityError, transaction

BEFORE = [("survey", "0004_method_ig")]
AFTER = [("survey", "0005_study_methods")]


@pytest.mark.django_db(transaction=True)
def test_an_existing_study_gets_the_papers_four_methods_and_the_relaxed_question_rule(migrate_to):
    old = migrate_to(BEFORE)
    explanation_set = old.get_model("explainers", "ExplanationSet").objects.create(
        name="m", directory="/x", model_sha256="0" * 64, data_source="test", overview_png=b""
    )
    Study = old.get_model("survey", "Study")
    Study.objects.create(name="m", slug="m", explanation_set=explanation_set, n_real_questions=40)
    with pytest.raises(IntegrityError), transaction.atomic():  # before: a multiple of 20
        Study.objects.filter(slug="m").update(n_real_questions=30)

    Study = migrate_to(AFTER).get_model("survey", "Study")
    study = Study.objects.get(slug="m")
    assert study.methods == ["normlime", "lime", "smoothgrad", "vargrad"] and study.n_real_questions == 40
    Study.objects.filter(slug="m").update(n_real_questions=30)  # now: a multiple of 10
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(slug="m").update(n_real_questions=25)
