"""manage.py start_kar_demo SET: the demo's small KAR run, started in the background (prepare_demo calls it)."""

from django.core.management.base import BaseCommand

from kar import demo
from kar.locations import kar_root


class Command(BaseCommand):
    help = "Start the demo's small KAR run in the background unless it is running or has finished (the KAR page follows it)."

    def add_arguments(self, parser):
        parser.add_argument("explanation_set", help="the ExplanationSet whose local weights rank the pixels")

    def handle(self, *args, **opts):
        demo.ensure_started(kar_root(), opts["explanation_set"], self.stdout)
