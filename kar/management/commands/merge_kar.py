"""manage.py merge_kar FOLDER FOLDER ... --out DIR: one grid run a feature set at a time, as one run folder."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kar.core import report as kar_report
from kar.core.errors import KarError
from kar.core.merge import merge_runs


class Command(BaseCommand):
    help = (
        "Merge run_kar folders that ran the same grid for different feature sets (e.g. --feature-sets pixels "
        "and --feature-sets conv) into one folder: results, rankings, sessions, report, figures and verdicts of "
        "the whole grid. run_kar with the whole grid's options then resumes that folder."
    )

    def add_arguments(self, parser):
        parser.add_argument("folders", nargs="+", help="run_kar output folders (at least two)")
        parser.add_argument(
            "--out", required=True, help="the merged folder (created; an earlier merge of the same grid is replaced)"
        )
        parser.add_argument("--restart", action="store_true", help="replace whatever KAR run --out holds")

    def handle(self, *args, **opts):
        try:
            report = merge_runs([Path(f) for f in opts["folders"]], Path(opts["out"]), restart=opts["restart"])
        except KarError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(kar_report.console_text(report))
        state = "complete" if report.complete else "incomplete"
        self.stdout.write(
            self.style.SUCCESS(
                f"Merged {len(opts['folders'])} folders into {report.out_dir}: {len(report.results)} of {report.expected} "
                f"cells ({state}), feature sets {', '.join(report.manifest['parameters']['feature_sets'])}."
            )
        )
