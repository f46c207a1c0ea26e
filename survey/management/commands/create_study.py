from django.core.management.base import BaseCommand, CommandError

from explainers import cli as explainers_cli
from explainers.data import MnistDataError
from explainers.methods import registry
from explainers.models import ExplanationSet
from survey import cli, services, study_file
from survey.models import Study
from survey.rules import DEFAULT_ATTENTION_CHECKS, DEFAULT_PASS_THRESHOLD, MAX_ATTENTION_CHECKS, MIN_ATTENTION_CHECKS


class Command(BaseCommand):
    help = (
        "Create a study of 2 to 6 methods (default: the paper's four, 20 real questions and "
        f"{DEFAULT_ATTENTION_CHECKS} attention checks) "
        "from an explanation set, or from a study file (--config), and print its participant URL."
    )

    def add_arguments(self, parser):
        # Flags default to None: a flag given on the command line wins over the study file, and
        # what neither says takes the defaults below (create_study's own where it has them).
        parser.add_argument(
            "explanation_set", nargs="?", help="name of the explanation set (see /explanations/; or the file's)"
        )
        parser.add_argument(
            "--config",
            metavar="FILE",
            help="a study file (TOML: the settings below and the participant texts; see docs/tutorial-own-study.md)",
        )
        parser.add_argument("--slug", help="URL name of the study (default: the explanation set's name)")
        parser.add_argument("--name", help=f"title shown to participants (default: {services.DEFAULT_STUDY_NAME!r})")
        parser.add_argument(
            "--methods",
            help="the 2 to 6 methods compared, comma-separated registry names "
            f"(default {','.join(registry.names(paper=True))})",
        )
        parser.add_argument(
            "--real-questions",
            type=int,
            help="a multiple of lcm(number of classes, number of methods), for MNIST's ten: 20 for four methods, 30 "
            "for three or six, 10 for two or five (default: the smallest such number that is at least 20)",
        )
        parser.add_argument(
            "--attention-checks",
            type=int,
            help=f"{MIN_ATTENTION_CHECKS} to {MAX_ATTENTION_CHECKS} (default {DEFAULT_ATTENTION_CHECKS})",
        )
        parser.add_argument("--pass-threshold", type=int, help=f"checks to pass (default {DEFAULT_PASS_THRESHOLD})")
        parser.add_argument("--seed", type=int, help="seed of the attention checks (default: random)")
        # The images the attention checks and the instructions' example are drawn from: the set's own data set
        # (its classes and shape must be the set's); for a set of MNIST, the embedded subset by default.
        explainers_cli.add_data_options(parser)
        parser.add_argument(
            "--draft", action="store_true", help="leave the study closed to participants (default: open)"
        )
        parser.add_argument("--no-mturk", action="store_true", help="refuse Mechanical Turk participants")
        parser.add_argument("--no-direct", action="store_true", help="refuse direct-link participants")
        parser.add_argument("--prolific-code", help="Prolific completion code (accepts Prolific participants)")
        parser.add_argument("--prolific-failed-code", help="Prolific code for those who fail the checks")
        cli.add_base_url_option(parser)

    def handle(self, *args, **opts):
        spec = study_file.StudyFile(None, {})
        if opts["config"]:
            try:
                spec = study_file.read(opts["config"])
            except study_file.StudyFileError as exc:
                raise CommandError(str(exc)) from None
        set_name = opts["explanation_set"] or spec.explanation_set
        if not set_name:
            raise CommandError("name the explanation set (as the first argument, or explanation_set in --config)")
        explanation_set = ExplanationSet.objects.filter(name=set_name).first()
        if explanation_set is None:
            known = (
                ", ".join(ExplanationSet.objects.values_list("name", flat=True)[:10])
                or "none; run generate_explanations or import_set"
            )
            raise CommandError(f"no explanation set {set_name!r} (known: {known})")
        arguments = {
            "name": services.DEFAULT_STUDY_NAME,
            "slug": explanation_set.name,
            "status": Study.Status.OPEN,
            **spec.arguments,
            **_flag_arguments(opts),
        }
        if opts["data"] is not None or opts["resize"] is not None:
            arguments.pop("mnist_dir", None)
            arguments["data"] = explainers_cli.load_data(opts)
        base = cli.base_url(opts["base_url"])
        try:
            study = services.create_study(explanation_set, **arguments)
        except services.BadStudyInput as exc:
            where = f"{opts['config']}: " if opts["config"] and exc.field in spec.arguments else ""
            raise CommandError(where + (study_file.message(exc) if where else exc.message)) from None
        except services.SurveyError as exc:
            raise CommandError(exc.message) from None
        except MnistDataError as exc:  # the data set the attention checks come from
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


def _flag_arguments(opts: dict) -> dict:
    """create_study's arguments that the command line gives (those left out are absent)."""
    given = {
        "slug": opts["slug"],
        "name": opts["name"],
        "methods": services.parse_methods(opts["methods"]) if opts["methods"] is not None else None,
        "n_real_questions": opts["real_questions"],
        "n_attention_checks": opts["attention_checks"],
        "pass_threshold": opts["pass_threshold"],
        "seed": opts["seed"],
        "mnist_dir": opts["mnist_dir"],
        "status": Study.Status.DRAFT if opts["draft"] else None,
        "accept_mturk": False if opts["no_mturk"] else None,
        "accept_direct": False if opts["no_direct"] else None,
        "prolific_completion_code": opts["prolific_code"],
        "prolific_failed_code": opts["prolific_failed_code"],
    }
    if opts["prolific_code"] is not None:
        given["accept_prolific"] = bool(opts["prolific_code"])
    return {name: value for name, value in given.items() if value is not None}
