"""manage.py power_analysis: participants needed to detect a difference in vote shares, by simulation."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from analysis import power, simulate
from survey.models import paper_methods
from survey.services import (
    MIN_DEFAULT_REAL_QUESTIONS,
    MNIST_N_CLASSES,
    BadStudyInput,
    block_rule_text,
    check_method_names,
    default_real_questions,
    parse_methods,
    real_question_block,
)


class Command(BaseCommand):
    help = (
        "Smallest number of kept participants for which the chosen test detects the given shares at the given α with "
        "the given power, by simulating studies (prints the power curve)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--methods",
            default=",".join(paper_methods()),
            help="the 2 to 6 methods of the study, comma-separated (default %(default)s)",
        )
        parser.add_argument(
            "--preference",
            default=None,
            help=f"expected share of votes per method, e.g. {simulate.PAPER_PREFERENCE_TEXT} (default: "
            "the paper's shares; a method the paper did not study gets its smallest share, then "
            "all are rescaled to sum to 1)",
        )
        parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default %(default)s)")
        parser.add_argument("--power", type=float, default=0.8, help="target power (default %(default)s)")
        parser.add_argument(
            "--test",
            choices=power.TESTS,
            default="friedman",
            help="friedman (default), anova (the paper's) or wilcoxon (one pair, Holm-corrected)",
        )
        parser.add_argument(
            "--pair",
            default=None,
            help="for --test wilcoxon: two methods, e.g. normlime,lime (default: the two largest shares)",
        )
        parser.add_argument("--max-participants", type=int, default=200, help="largest n tried (default %(default)s)")
        parser.add_argument(
            "--simulations", type=int, default=500, help="simulated studies per n (default %(default)s)"
        )
        parser.add_argument(
            "--questions",
            type=int,
            default=None,
            help="real questions per participant (default: what a study of these methods has unless told "
            f"otherwise: the smallest multiple of lcm({MNIST_N_CLASSES}, number of methods) that is at least "
            f"{MIN_DEFAULT_REAL_QUESTIONS}; {default_real_questions(3)} for three methods, "
            f"{default_real_questions(4)} for four)",
        )
        parser.add_argument(
            "--classes",
            type=int,
            default=MNIST_N_CLASSES,
            help="classes of the study's data set, for the default --questions (default %(default)s, MNIST's)",
        )
        parser.add_argument(
            "--concentration",
            type=float,
            default=simulate.DEFAULT_CONCENTRATION,
            help="how alike participants' own preferences are (inf = identical; default %(default)s, "
            "calibrated on the paper's F)",
        )
        parser.add_argument("--seed", type=int, default=0, help="seed (default %(default)s)")

    def handle(self, *args, **opts):
        try:
            methods = check_method_names(parse_methods(opts["methods"]))
        except BadStudyInput as exc:
            raise CommandError(f"--methods: {exc.message}") from None
        try:
            preference = (
                simulate.default_preference(methods)
                if opts["preference"] is None
                else simulate.parse_preference(opts["preference"], methods)
            )
        except simulate.SimulationError as exc:
            raise CommandError(str(exc)) from None
        pair = None
        if opts["pair"]:
            if opts["test"] != "wilcoxon":
                raise CommandError("--pair applies to --test wilcoxon only")
            pair = tuple(m.strip().lower() for m in opts["pair"].split(","))
            if len(pair) != 2:
                raise CommandError(f"--pair {opts['pair']!r}: name two methods, e.g. normlime,lime")
        n_classes = opts["classes"]
        if n_classes < 2:
            raise CommandError(f"--classes {n_classes}: a study needs at least 2 classes")
        if opts["questions"] is None:
            k = len(methods)
            questions = default_real_questions(k, n_classes)
            of_classes = "" if n_classes == MNIST_N_CLASSES else f" and {n_classes} classes"
            why = (
                f"a study of {k} methods{of_classes} by default: the smallest multiple of "
                f"{block_rule_text(k, n_classes)} = {real_question_block(k, n_classes)} that is at least "
                f"{MIN_DEFAULT_REAL_QUESTIONS}"
            )
        else:
            questions, why = opts["questions"], "set by --questions"
        if not opts["concentration"] > 0:
            raise CommandError(f"--concentration {opts['concentration']}: use a positive number or inf")
        try:
            result = power.power_analysis(
                preference,
                opts["test"],
                opts["alpha"],
                opts["power"],
                max_participants=opts["max_participants"],
                simulations=opts["simulations"],
                seed=opts["seed"],
                concentration=opts["concentration"],
                n_questions=questions,
                pair=pair,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(power.format_power(result, questions_reason=why), ending="")
