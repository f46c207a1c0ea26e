from django.core.management.base import BaseCommand, CommandError

from explainers.bundles import BundleError, import_set


class Command(BaseCommand):
    help = (
        "Register an explanation set from a bundle written by export_set, after checking every member's "
        "checksum; its files go to the data folder's explanations/NAME."
    )

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="the bundle file, e.g. paper-set.zip")
        parser.add_argument("--name", default=None, help="name of the set here (default: the bundle's)")

    def handle(self, *args, **opts):
        try:
            explanation_set = import_set(opts["bundle"], name=opts["name"])
        except BundleError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported set '{explanation_set.name}' with {explanation_set.maps.count()} maps into "
                f"{explanation_set.directory}; gallery: {explanation_set.get_absolute_url()}"
            )
        )
