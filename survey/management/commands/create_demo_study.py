from django.core.management.base import BaseCommand, CommandError

from explainers.data import MnistDataError
from explainers.models import ExplanationSet
from survey import cli, services


class Command(BaseCommand):
    help = "Create the open study 'demo' (once) from an explanation set and print the URL to take it."

    def add_arguments(self, parser):
        parser.add_argument("explanation_set", nargs="?", help="name of the explanation set (default: the newest)")
        cli.add_base_url_option(parser)

    def handle(self, *args, **opts):
        base = cli.base_url(opts["base_url"])
        sets = ExplanationSet.objects.all()
        explanation_set = sets.filter(name=opts["explanation_set"]).first() if opts["explanation_set"] else sets.first()
        if explanation_set is None:
            wanted = f" {opts['explanation_set']!r}" if opts["explanation_set"] else ""
            raise CommandError(f"no explanation set{wanted} (run generate_explanations first)")
        try:
            study = services.create_demo_study(explanation_set)
        except services.SurveyError as exc:
            raise CommandError(exc.message) from None
        except MnistDataError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo study {study.slug} ({study.get_status_display().lower()}) shows explanation set {study.explanation_set.name}."
            )
        )
        self.stdout.write(f"Take it at {cli.study_url(study, base)}")
