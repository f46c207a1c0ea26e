"""manage.py simulate_responses: synthetic participants through the survey's own services (pilot runs, demo)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from analysis import simulate
from survey import cli
from survey.services import SurveyError


class Command(BaseCommand):
    help = (
        "Add synthetic participants to an open study, through the same service functions a browser uses: attentive "
        "ones pass the attention checks and vote by --preference, careless ones (--fail-rate) answer at random. "
        "They are participants of kind simulated: analyze_study and the report page count them only when told to "
        "(--include simulated)."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study (open, accepting the direct link)")
        parser.add_argument("--participants", type=int, required=True, help="how many to add")
        parser.add_argument(
            "--preference",
            default=None,
            help="share of votes per method of the study for attentive participants, e.g. "
            f"{simulate.PAPER_PREFERENCE_TEXT} (default: the paper's shares; a method the paper "
            "did not study gets its smallest share, then all are rescaled to sum to 1)",
        )
        parser.add_argument(
            "--fail-rate",
            type=float,
            default=0.1,
            help="share of careless participants who answer at random (default %(default)s)",
        )
        parser.add_argument(
            "--slip-rate",
            type=float,
            default=simulate.DEFAULT_SLIP_RATE,
            help="chance an attentive participant gets a check wrong (default %(default)s)",
        )
        parser.add_argument(
            "--concentration",
            type=float,
            default=simulate.DEFAULT_CONCENTRATION,
            help="how alike attentive participants' own preferences are (Dirichlet concentration; "
            "inf = identical; default %(default)s, calibrated on the paper's F)",
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the answers (default %(default)s)")
        parser.add_argument(
            "--top-up",
            action="store_true",
            help="create only as many as needed for the study to have --participants simulated ones",
        )

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        if opts["participants"] < 1:
            raise CommandError(f"--participants {opts['participants']}: use 1 or more")
        try:
            preference = (
                simulate.default_preference(study.methods)
                if opts["preference"] is None
                else simulate.parse_preference(opts["preference"], study.methods)
            )
            result = simulate.simulate_study(
                study,
                opts["participants"],
                preference,
                opts["fail_rate"],
                opts["seed"],
                top_up=opts["top_up"],
                slip_rate=opts["slip_rate"],
                concentration=opts["concentration"],
            )
        except simulate.SimulationError as exc:
            raise CommandError(str(exc)) from None
        except SurveyError as exc:
            raise CommandError(
                f"study {study.slug}: {exc.message} (simulated participants use the direct link)"
            ) from None
        shares = ", ".join(f"{m}={v:.2f}" for m, v in preference.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Simulated {result.created} participants in study {study.slug} ({result.careless} careless; "
                f"{result.passed} passed the attention checks; preference {shares}; seed {opts['seed']}). "
                f"The study now has {result.existing + result.created} simulated participants."
            )
        )
