from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from survey import cli, services


class Command(BaseCommand):
    help = (
        "Print the Prolific ids of a study's finished real participants who passed (or failed) the attention checks, "
        "one a line, as Prolific's bulk approve and reject take them."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--passed", action="store_true", help="those who passed the study's checks (to approve)")
        which.add_argument("--failed", action="store_true", help="those who failed them (to review, then reject)")
        parser.add_argument("-o", "--output", help="write to this file instead of standard output")

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        ids = services.prolific_ids(study, passed=opts["passed"])
        text = "".join(f"{pid}\n" for pid in ids)
        if opts["output"] is None:
            self.stdout.write(text, ending="")
            return
        path = Path(opts["output"])
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}") from None
        which = "passed" if opts["passed"] else "failed"
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(ids)} Prolific ids ({which}) of {study.slug} to {path}."))
