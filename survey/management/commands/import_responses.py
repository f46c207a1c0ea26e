"""manage.py import_responses: answers in export_responses' long CSV format into a study (all or nothing)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from survey import cli, services


class Command(BaseCommand):
    help = (
        "Import a long CSV written by export_responses (or another platform in that format) into a study with the "
        "same questions. Every row is checked first; nothing is imported unless the whole file is valid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (one row per answer)")
        parser.add_argument("--study", required=True, help="slug of the study to import into")

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            with path.open(encoding="utf-8-sig", newline="") as stream:
                result = services.import_csv(study, stream)
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); nothing was imported"
            ) from None
        except services.ImportFailed as exc:
            n = len(exc.errors) + exc.more
            if n == 1:
                raise CommandError(f"{path}: {exc.errors[0]}; nothing was imported") from None
            for error in exc.errors:
                self.stderr.write(f"{path}: {error}")
            if exc.more:
                self.stderr.write(f"{path}: ... and {exc.more} more bad rows")
            raise CommandError(f"{path}: {n} errors; nothing was imported") from None
        renamed = f" ({result.new_ids} given new ids: theirs were taken or not UUIDs)" if result.new_ids else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.participants} participants ({result.finished} finished){renamed} and "
                f"{result.answers} answers from {path} into study {study.slug}."
            )
        )
