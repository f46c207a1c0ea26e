"""Each option gets its own opaque picture key (participants fetch pictures by option, not by image)."""
import secrets

from django.db import migrations, models

import survey.models


def fill_keys(apps, schema_editor):
    # One fresh key per existing option: a callable default on AddField would give them all one.
    ItemOption = apps.get_model("survey", "ItemOption")
    options = list(ItemOption.objects.only("pk"))
    for option in options:
        option.key = secrets.token_hex(12)
    ItemOption.objects.bulk_update(options, ["key"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("survey", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="itemoption",
            name="key",
            field=models.CharField(max_length=32, null=True),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="itemoption",
            name="key",
            field=models.CharField(default=survey.models.new_image_key, editable=False, max_length=32, unique=True),
        ),
    ]
