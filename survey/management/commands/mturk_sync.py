from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from survey import cli
from survey.platforms import mturk


class Command(BaseCommand):
    help = "Review submitted MTurk assignments: approve those that passed the attention checks, report the rest."

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        parser.add_argument("--live", action="store_true", help="the live marketplace's HITs (default: sandbox)")
        parser.add_argument(
            "--reject-failed",
            action="store_true",
            help="reject assignments that failed the attention checks (default: only report them)",
        )

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        try:
            report = mturk.sync_assignments(
                mturk.make_client(live=opts["live"]), study, live=opts["live"], reject_failed=opts["reject_failed"]
            )
        except mturk.MTurkError as exc:
            raise CommandError(str(exc)) from None
        except (BotoCoreError, ClientError) as exc:  # no credentials, network, MTurk refused
            raise CommandError(f"Mechanical Turk: {exc}") from None
        for assignment_id in report.approved:
            self.stdout.write(f"Approved {assignment_id}")
        for assignment_id, why in report.held:
            self.stdout.write(f"Left {assignment_id}: {why}")
        for assignment_id in report.rejected:
            self.stdout.write(f"Rejected {assignment_id}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Study {study.slug}: approved {len(report.approved)}, rejected {len(report.rejected)}, "
                f"left {len(report.held)} submitted assignments for you to review."
            )
        )
