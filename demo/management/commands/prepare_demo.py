from django.core.management.base import BaseCommand
from django.urls import reverse

from demo import services
from explainers.methods import registry


class Command(BaseCommand):
    help = (
        "Prepare the demo on the embedded data: train the model and generate the maps if missing, "
        "then a demo study with simulated responses, a local researcher login (DEBUG only) and a small KAR run "
        "started in the background (the KAR page follows it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1:8000", help="where the site will be served (for the URLs)")

    def handle(self, *args, **opts):
        services.ensure_model(self.stdout)
        explanation_set = services.ensure_explanations(self.stdout)
        study = services.ensure_demo_study(explanation_set, self.stdout)
        login = services.ensure_demo_researcher(self.stdout)
        services.ensure_demo_kar(explanation_set, self.stdout)  # last: it must not slow the steps above
        base = f"http://{opts['host']}"
        self.stdout.write(self.style.SUCCESS("Demo ready. Open:"))
        lines = [
            (f"Explanation maps ({len(registry.names())} methods x 10 digits)", explanation_set.get_absolute_url()),
            ("Take the demo survey (participant)", study.get_absolute_url()),
            ("Study monitor (researcher)", study.get_monitor_url()),
            # The demo's participants are all simulated: only real ones count unless the report is told.
            ("Analysis report (researcher)", reverse("analysis:report", args=[study.slug]) + "?include=simulated"),
            ("KAR results, small demo run (researcher)", reverse("kar:index")),
            ("Admin", reverse("admin:index")),
        ]
        for label, path in lines:
            self.stdout.write(f"  {label + ':':42} {base}{path}")
        if login:
            self.stdout.write(f"  Researcher login (local demo only): {login[0]} / {login[1]}")
        self.stdout.write(
            "  The full KAR grid is not part of the demo (minutes of retraining): run `manage.py run_kar`."
        )
