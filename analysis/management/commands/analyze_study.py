"""manage.py analyze_study: the paper's analysis of a study's votes, and the tests that respect its design."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analysis import reports
from analysis import study as study_analysis
from survey import cli


def default_out(slug: str) -> Path:
    return Path(settings.DATA_DIR) / "analysis" / slug


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Analyse a study's votes: attention filter, votes per method, the paper's ANOVA and Tukey HSD, then "
        "Friedman, Wilcoxon + Holm, Hotelling's T², chi-square and bootstrap CIs; print the report and write "
        "report.json, votes.csv, tukey.csv and figures."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        parser.add_argument(
            "--min-checks",
            type=int,
            default=None,
            help="attention checks a participant must pass to be kept (default: the study's threshold, 4 of 5 as in the paper)",
        )
        parser.add_argument("--out", default=None, help=f"output folder (default {default_out('<study>')})")
        parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default %(default)s)")
        parser.add_argument(
            "--n-boot",
            type=positive_int,
            default=study_analysis.DEFAULT_N_BOOT,
            help="bootstrap resamples (default %(default)s)",
        )
        parser.add_argument(
            "--alpha", type=float, default=0.05, help="family-wise α of Tukey and Holm (default %(default)s)"
        )
        parser.add_argument(
            "--include",
            default="",
            help="other kinds of participant to count, comma-separated: "
            f"{','.join(study_analysis.OPTIONAL_KINDS)} (default: only {study_analysis.ALWAYS_COUNTED} participants "
            "count; the report says how many of each kind were left out)",
        )

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        if not 0 < opts["alpha"] < 1:
            raise CommandError(f"--alpha {opts['alpha']}: use a number between 0 and 1")
        try:
            include = study_analysis.parse_kinds(opts["include"])
        except study_analysis.UnknownKind as exc:
            raise CommandError(f"--include {opts['include']}: {exc}") from None
        out = Path(opts["out"]) if opts["out"] else default_out(study.slug)
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out}: is a file, not a folder")
        try:
            report = study_analysis.analyze_study(
                study,
                opts["min_checks"],
                n_boot=opts["n_boot"],
                seed=opts["seed"],
                alpha=opts["alpha"],
                include=include,
            )
        except study_analysis.NothingToAnalyse as exc:
            raise CommandError(f"study {study.slug}: nothing to analyse: {exc}") from None
        self.stdout.write(reports.text_report(report), ending="")
        written = reports.write_report_files(report, out)
        self.stdout.write(self.style.SUCCESS(f"Wrote {', '.join(p.name for p in written)} to {out}"))
