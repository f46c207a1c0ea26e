"""Migration 0007_simulated_participants_kind: participants marked simulated by their user agent get kind simulated."""

from datetime import UTC, datetime

import pytest

BEFORE = [("survey", "0006_study_texts_participant_kind")]
AFTER = [("survey", "0007_simulated_participants_kind")]
T0 = datetime(2024, 5, 1, tzinfo=UTC)
OLD_MARKER = "simulated participant (analysis.simulate)"  # what analysis.simulate stored as the user agent


@pytest.mark.django_db(transaction=True)
def test_participants_with_the_old_simulated_marker_become_simulated_and_the_others_stay_real(migrate_to):
    old = migrate_to(BEFORE)
    explanation_set = old.get_model("explainers", "ExplanationSet").objects.create(
        name="m", directory="/x", model_sha256="0" * 64, data_source="test", overview_png=b""
    )
    study = old.get_model("survey", "Study").objects.create(name="m", slug="m", explanation_set=explanation_set)
    Participant = old.get_model("survey", "Participant")
    for i, agent in enumerate([OLD_MARKER, "Mozilla/5.0", "", OLD_MARKER]):
        Participant.objects.create(study=study, platform="direct", user_agent=agent, sheet_seed=i, started_at=T0)
    assert set(Participant.objects.values_list("kind", flat=True)) == {"real"}

    new = migrate_to(AFTER).get_model("survey", "Participant")
    kinds = list(new.objects.order_by("sheet_seed").values_list("kind", flat=True))
    assert kinds == ["simulated", "real", "real", "simulated"]

    back = migrate_to(BEFORE).get_model("survey", "Participant")
    assert set(back.objects.values_list("kind", flat=True)) == {"real"}
