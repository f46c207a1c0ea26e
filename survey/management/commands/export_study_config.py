from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from explainers.files import atomic_write
from survey import study_file
from survey.models import Study


class Command(BaseCommand):
    help = (
        "Write a study's settings and participant texts as a study file (TOML, with its seed), which "
        "`create_study --config FILE` builds again the same, on this machine or another."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="the study's slug")
        parser.add_argument("-o", "--out", metavar="FILE", help="write to FILE (default: print the file)")
        parser.add_argument("--force", action="store_true", help="replace FILE if it exists")

    def handle(self, *args, **opts):
        study = Study.objects.select_related("explanation_set").filter(slug=opts["study"]).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)[:10]) or "none"
            raise CommandError(f"no study {opts['study']!r} (known: {known})")
        text = study_file.dumps(study)
        if not opts["out"]:
            self.stdout.write(text, ending="")
            return
        out = Path(opts["out"])
        if out.is_dir():
            raise CommandError(f"{out}: is a folder; give a file name")
        if out.exists() and not opts["force"]:
            raise CommandError(f"{out} exists; pass --force to replace it")
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent}: no such folder")
        try:
            atomic_write(out, text)
        except OSError as exc:
            raise CommandError(f"{out}: cannot be written ({exc.strerror})") from None
        self.stdout.write(self.style.SUCCESS(f"Wrote study {study.slug} to {out}."))
