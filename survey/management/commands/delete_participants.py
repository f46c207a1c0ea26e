from django.core.management.base import BaseCommand, CommandError

from survey import cli, services


class Command(BaseCommand):
    help = "Delete a study's pilot and/or simulated participants with their answers (real ones can never be deleted)."

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        parser.add_argument(
            "--kind",
            required=True,
            help=f"comma-separated kinds to delete: {', '.join(services.deletable_kinds())} (never real)",
        )

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        kinds = [kind.strip() for kind in opts["kind"].split(",") if kind.strip()]
        try:
            counts = services.delete_participants(study, kinds)
        except services.SurveyError as exc:
            raise CommandError(exc.message) from None
        what = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Deleted {sum(counts.values())} participants of {study.slug} ({what})."))
