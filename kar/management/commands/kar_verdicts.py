"""manage.py kar_verdicts FOLDER: the verdicts and report files of a run_kar folder again, without training."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kar.core import report as kar_report
from kar.core.errors import KarError
from kar.core.store import COMPARISONS, MANIFEST, REPORT_MD, RESULTS, SUMMARY, VERDICTS


class Command(BaseCommand):
    help = (
        f"Recompute {VERDICTS} and the report files ({REPORT_MD}, {SUMMARY}, {COMPARISONS}, the figures) of a "
        f"run_kar output folder from its {RESULTS} and {MANIFEST}, without training, and print the verdicts on "
        "the paper's claims with their power (the rules: kar/core/verdict.py)."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", help=f"a run_kar output folder (holding {RESULTS} and {MANIFEST})")

    def handle(self, *args, **opts):
        folder = Path(opts["folder"])
        if not folder.is_dir():
            raise CommandError(f"{folder}: no such folder")
        for name in (MANIFEST, RESULTS):
            if not (folder / name).is_file():
                raise CommandError(f"{folder}: no {name}, so not a run_kar output folder with results")
        try:
            report = kar_report.write_report(folder)
        except KarError as exc:
            raise CommandError(str(exc)) from None
        if report.verdicts:
            self.stdout.write(kar_report.claims_text(report, markdown=False))
        else:
            why = "a ROAR run" if report.mode != "kar" else "not MNIST's classes and image shape"
            self.stdout.write(f"No verdicts: the paper's claims are about KAR on MNIST, and this is {why}.")
        figures = ", ".join(name for _, name in report.figures)
        written = [
            *([VERDICTS] if report.verdicts else []),
            REPORT_MD,
            SUMMARY,
            COMPARISONS,
            *([figures] if figures else []),
        ]
        self.stdout.write(
            self.style.SUCCESS(
                f"Judged {len(report.results)} cells of {folder}; wrote {', '.join(written)} (nothing trained)."
            )
        )
