import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from explainers.cli import stops_on_a_full_disk
from explainers.files import atomic_write
from survey import cli, export


class Command(BaseCommand):
    help = "Export a study's answers in long format (one row per answer) as CSV or JSON."

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        parser.add_argument(
            "--format", choices=export.FORMATS, default="csv", help="output format (default %(default)s)"
        )
        parser.add_argument("--output", "-o", default=None, help="file to write (default: standard output)")

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        if opts["output"]:
            path = Path(opts["output"])
            if path.is_dir():
                raise CommandError(
                    f"--output {path}: is a directory (give a file name such as {path / 'responses.csv'})"
                )
            if not path.parent.is_dir():
                raise CommandError(f"--output {path}: folder {path.parent} does not exist")
            # Whole or not at all: a full disk leaves no half-written export under the name.
            buffer = io.StringIO(newline="")
            n = export.write(study, opts["format"], buffer)
            with stops_on_a_full_disk(path, resumes=False):
                atomic_write(path, buffer.getvalue())
            self.stderr.write(
                self.style.SUCCESS(f"Wrote {n} answers of study {study.slug} to {path} ({opts['format']}).")
            )
        else:
            n = export.write(study, opts["format"], self.stdout)
            # The data is on stdout; the summary goes to stderr so a pipe gets clean data.
            self.stderr.write(f"Exported {n} answers of study {study.slug} ({opts['format']}).")
