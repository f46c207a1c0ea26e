from django.core.management.base import BaseCommand, CommandError

from survey import cli, services
from survey.models import Study


class Command(BaseCommand):
    help = "Open, close or draft a study (closing stops new participants; those who started may finish)."

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        parser.add_argument("status", choices=Study.Status.values, help="new status")

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        try:
            study = services.set_study_status(study, opts["status"])
        except services.SurveyError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"Study {study.slug} is now {study.status}."))
