from django.core.management.base import BaseCommand, CommandError

from explainers.bundles import MAPS, BundleError, export_set
from explainers.models import ExplanationSet


class Command(BaseCommand):
    help = (
        "Write an explanation set as one bundle file (its maps, PNGs, overview and manifest, with a checksum "
        "of each) for import_set on another machine."
    )

    def add_arguments(self, parser):
        parser.add_argument("set", help="name of the explanation set")
        parser.add_argument("-o", "--out", required=True, help="the bundle to write, e.g. paper-set.zip")
        parser.add_argument("--force", action="store_true", help="replace the file if it exists")

    def handle(self, *args, **opts):
        explanation_set = ExplanationSet.objects.filter(name=opts["set"]).first()
        if explanation_set is None:
            known = ", ".join(ExplanationSet.objects.order_by("name").values_list("name", flat=True)) or "none"
            raise CommandError(f"no explanation set {opts['set']!r} (known: {known})")
        try:
            summary = export_set(explanation_set, opts["out"], force=opts["force"])
        except BundleError as exc:
            raise CommandError(str(exc)) from None
        pngs = sum(member.endswith(".png") for member in summary.members)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote set '{explanation_set.name}' to {summary.path}: {len(summary.members)} members "
                f"({MAPS}, manifest.json, {pngs} PNGs with the overview) and their checksums, "
                f"{summary.size} bytes, sha256 {summary.sha256}."
            )
        )
