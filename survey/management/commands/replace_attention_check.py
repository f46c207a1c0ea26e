from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from survey import cli, services


class Command(BaseCommand):
    help = (
        "Replace one attention check of a study (before anyone starts) with your own pictures: the correct one "
        "and one distractor fewer than the study has methods (three for the paper's four)."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        parser.add_argument(
            "number",
            type=int,
            help="item number of the check (the checks follow the real questions: 21-25 for 20 of them)",
        )
        parser.add_argument(
            "--digit", type=int, required=True, help="the class asked about, by its label (for MNIST the digit, 0-9)"
        )
        parser.add_argument("--correct", required=True, help="picture that plainly shows the class (any image file)")
        parser.add_argument(
            "--distractor",
            action="append",
            default=[],
            required=True,
            help="a distractor picture; give k - 1 of them for a study of k methods (repeat the option)",
        )

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        paths = [Path(opts["correct"]), *map(Path, opts["distractor"])]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        pictures = [path.read_bytes() for path in paths]
        try:
            item = services.replace_attention_check(study, opts["number"], opts["digit"], pictures[0], pictures[1:])
        except services.SurveyError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Replaced attention check {item.number} of study {study.slug}: it now asks about the "
                f"{study.noun} {study.class_name(item.digit)}."
            )
        )
