"""Migration 0002_option_key: options that exist already get keys of their own."""

import pytest

BEFORE = [("survey", "0001_initial")]
AFTER = [("survey", "0002_option_key")]


@pytest.mark.django_db(transaction=True)
def test_existing_options_get_distinct_keys_even_when_they_share_an_image(migrate_to):
    old = migrate_to(BEFORE)
    explanation_set = old.get_model("explainers", "ExplanationSet").objects.create(
        name="m", directory="/x", model_sha256="0" * 64, data_source="test", overview_png=b""
    )
    study = old.get_model("survey", "Study").objects.create(name="m", slug="m", explanation_set=explanation_set)
    image = old.get_model("survey", "StudyImage").objects.create(study=study, role="check", png=b"png")
    item = old.get_model("survey", "Item").objects.create(study=study, number=1, kind="attention", digit=3)
    ItemOption = old.get_model("survey", "ItemOption")
    for slot in range(3):
        ItemOption.objects.create(item=item, slot=slot, image=image)

    new = migrate_to(AFTER)
    keys = list(new.get_model("survey", "ItemOption").objects.values_list("key", flat=True))
    assert len(keys) == 3 and len(set(keys)) == 3 and all(len(k) == 24 for k in keys)
