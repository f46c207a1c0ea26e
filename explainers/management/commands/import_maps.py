from django.core.management.base import BaseCommand, CommandError

from explainers import cli
from explainers.maps_import import MapsImportError, format_help, import_maps


class Command(BaseCommand):
    help = (
        "Register class maps computed elsewhere (e.g. with Captum) as an explanation set of the data set --data: "
        "checked against its classes and image size, written to the data folder's explanations/NAME with "
        "PNGs, an overview and a manifest. " + format_help()
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the maps, FILE.npz (format above)")
        parser.add_argument("--name", default=None, help="name of the set (default: the file's name without .npz)")
        parser.add_argument(
            "--model",
            default=None,
            help="the model the maps explain: its sha256 goes into the manifest (default: none)",
        )
        cli.add_data_options(parser)

    def handle(self, *args, **opts):
        data = cli.load_data(opts)
        try:
            explanation_set = import_maps(opts["file"], data, name=opts["name"], model_path=opts["model"])
        except MapsImportError as exc:
            raise CommandError(str(exc)) from None
        methods = explanation_set.maps.values_list("method", flat=True).distinct().count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {methods} methods' maps of {explanation_set.n_classes} classes as set "
                f"'{explanation_set.name}' into {explanation_set.directory}; gallery: {explanation_set.get_absolute_url()}"
            )
        )
