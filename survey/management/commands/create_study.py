from django.core.management.base import BaseCommand, CommandError

from explainers.data import MnistDataError
from explainers.methods import registry
from explainers.models import ExplanationSet
from survey import cli, services
from survey.models import Study
from survey.rules import DEFAULT_ATTENTION_CHECKS, DEFAULT_PASS_THRESHOLD, MAX_ATTENTION_CHECKS, MIN_ATTENTION_CHECKS


class Command(BaseCommand):
    help = (
        "Create a study of 2 to 6 methods (default: the paper's four, 20 real questions and "
        f"{DEFAULT_ATTENTION_CHECKS} attention checks) "
        "from an explanation set and print its participant URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("explanation_set", help="name of the explanation set (see /explanations/)")
        parser.add_argument("--slug", help="URL name of the study (default: the explanation set's name)")
        parser.add_argument("--name", help=f"title shown to participants (default: {services.DEFAULT_STUDY_NAME!r})")
        parser.add_argument(
            "--methods",
            default=",".join(registry.names(paper=True)),
            help="the 2 to 6 methods compared, comma-separated registry names (default %(default)s)",
        )
        parser.add_argument(
            "--real-questions",
            type=int,
            default=None,
            help="a multiple of lcm(10, number of methods): 20 for four methods, 30 for three or six, 10 for two "
            "or five (default: the smallest such number that is at least 20)",
        )
        parser.add_argument(
            "--attention-checks",
            type=int,
            default=DEFAULT_ATTENTION_CHECKS,
            help=f"{MIN_ATTENTION_CHECKS} to {MAX_ATTENTION_CHECKS} (default %(default)s)",
        )
        parser.add_argument(
            "--pass-threshold", type=int, default=DEFAULT_PASS_THRESHOLD, help="checks to pass (default %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=None, help="seed of the attention checks (default: random)")
        parser.add_argument(
            "--mnist-dir", default=None, help="official MNIST files for the attention checks (default: embedded subset)"
        )
        parser.add_argument(
            "--draft", action="store_true", help="leave the study closed to participants (default: open)"
        )
        parser.add_argument("--no-mturk", action="store_true", help="refuse Mechanical Turk participants")
        parser.add_argument("--no-direct", action="store_true", help="refuse direct-link participants")
        parser.add_argument(
            "--prolific-code", default="", help="Prolific completion code (accepts Prolific participants)"
        )
        parser.add_argument("--prolific-failed-code", default="", help="Prolific code for those who fail the checks")
        cli.add_base_url_option(parser)

    def handle(self, *args, **opts):
        explanation_set = ExplanationSet.objects.filter(name=opts["explanation_set"]).first()
        if explanation_set is None:
            known = (
                ", ".join(ExplanationSet.objects.values_list("name", flat=True)[:10])
                or "none; run generate_explanations"
            )
            raise CommandError(f"no explanation set {opts['explanation_set']!r} (known: {known})")
        base = cli.base_url(opts["base_url"])
        slug = opts["slug"] or explanation_set.name
        try:
            study = services.create_study(
                explanation_set,
                name=opts["name"] or services.DEFAULT_STUDY_NAME,
                slug=slug,
                methods=services.parse_methods(opts["methods"]),
                n_real_questions=opts["real_questions"],
                n_attention_checks=opts["attention_checks"],
                pass_threshold=opts["pass_threshold"],
                status=Study.Status.DRAFT if opts["draft"] else Study.Status.OPEN,
                seed=opts["seed"],
                mnist_dir=opts["mnist_dir"],
                accept_mturk=not opts["no_mturk"],
                accept_direct=not opts["no_direct"],
                accept_prolific=bool(opts["prolific_code"]),
                prolific_completion_code=opts["prolific_code"],
                prolific_failed_code=opts["prolific_failed_code"],
            )
        except services.SurveyError as exc:
            raise CommandError(exc.message) from None
        except MnistDataError as exc:  # the MNIST files the attention checks come from
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created study {study.slug} ({study.get_status_display().lower()}): {study.n_real_questions} questions and "
                f"{study.n_attention_checks} attention checks from {explanation_set.name}, comparing {study.n_options} "
                f"methods ({', '.join(study.methods)})."
            )
        )
        self.stdout.write(f"Participant URL: {cli.study_url(study, base)}")
        self.stdout.write(f"Monitor: {base}{study.get_monitor_url()}")
