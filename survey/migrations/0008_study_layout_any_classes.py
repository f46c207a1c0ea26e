"""Studies of any data set: a study keeps its explanation set's layout (class names, shape, noun);
the rules that said ten digits (digit <= 9, real questions a multiple of 10) go.

Existing studies take their set's layout (MNIST's for every set made before sets had one).
"""

from django.db import migrations, models

import explainers.models


def copy_layouts(apps, schema_editor):
    Study = apps.get_model("survey", "Study")
    for study in Study.objects.select_related("explanation_set"):
        study.layout = study.explanation_set.layout
        study.save(update_fields=["layout"])


class Migration(migrations.Migration):
    dependencies = [
        ("explainers", "0003_explanation_set_layout"),
        ("survey", "0007_simulated_participants_kind"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="item",
            name="item_digit_between_0_and_9",
        ),
        migrations.RemoveConstraint(
            model_name="study",
            name="study_real_questions_in_range",
        ),
        migrations.RemoveConstraint(
            model_name="study",
            name="study_real_questions_multiple_of_10",
        ),
        migrations.RemoveConstraint(
            model_name="studyimage",
            name="image_digit_between_0_and_9",
        ),
        migrations.AddField(
            model_name="study",
            name="layout",
            field=models.JSONField(
                default=explainers.models.mnist_layout,
                help_text="The explanation set's layout when the study was made (classes in label order, image shape, noun): what participants were told the classes are called.",
            ),
        ),
        migrations.AlterField(
            model_name="item",
            name="digit",
            field=models.PositiveSmallIntegerField(help_text="The class asked about (its label; MNIST's digit)."),
        ),
        migrations.AlterField(
            model_name="study",
            name="n_real_questions",
            field=models.PositiveSmallIntegerField(
                default=20,
                help_text="A multiple of lcm(number of classes, number of methods) (20 for MNIST and four methods): every class equally often, every method in every position equally often.",
            ),
        ),
        migrations.AlterField(
            model_name="studyimage",
            name="digit",
            field=models.PositiveSmallIntegerField(
                blank=True, help_text="Class shown (its label; MNIST's digit; unknown for uploads).", null=True
            ),
        ),
        migrations.RunPython(copy_layouts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="study",
            constraint=models.CheckConstraint(
                condition=models.Q(("n_real_questions__gte", 2), ("n_real_questions__lte", 190)),
                name="study_real_questions_in_range",
            ),
        ),
    ]
