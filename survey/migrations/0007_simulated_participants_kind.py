"""Participants made by ``simulate_responses`` before participants had a kind become kind ``simulated``.

Until then they were told apart by their user agent. The marker is copied here, not imported:
a migration must keep working whatever the app's code later says.
"""

from django.db import migrations

#: The user agent analysis.simulate gave its participants (formerly analysis.study.SIMULATED_USER_AGENT).
OLD_SIMULATED_USER_AGENT = "simulated participant (analysis.simulate)"


def mark_simulated(apps, schema_editor):
    Participant = apps.get_model("survey", "Participant")
    Participant.objects.filter(user_agent=OLD_SIMULATED_USER_AGENT).update(kind="simulated")


def unmark_simulated(apps, schema_editor):
    # Back to the state before: kind did not tell them apart, the user agent (kept) still does.
    Participant = apps.get_model("survey", "Participant")
    Participant.objects.filter(user_agent=OLD_SIMULATED_USER_AGENT, kind="simulated").update(kind="real")


class Migration(migrations.Migration):
    dependencies = [
        ("survey", "0006_study_texts_participant_kind"),
    ]

    operations = [
        migrations.RunPython(mark_simulated, unmark_simulated),
    ]
