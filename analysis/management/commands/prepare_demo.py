from django.core.management.base import BaseCommand

from analysis import demo


class Command(BaseCommand):
    help = "Prepare the demo on the embedded data: train the model and generate the maps if missing."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1:8000", help="where the site will be served (for the URLs)")

    def handle(self, *args, **opts):
        demo.ensure_model(self.stdout)
        explanation_set = demo.ensure_explanations(self.stdout)
        base = f"http://{opts['host']}"
        self.stdout.write(self.style.SUCCESS("Demo ready. Open:"))
        self.stdout.write(f"  Explanation maps (4 x 10 grid): {base}{explanation_set.get_absolute_url()}")
        self.stdout.write(f"  All explanation sets:           {base}/explanations/")
