from django.core.management.base import BaseCommand, CommandError

from survey import cli
from survey.platforms import mturk


class Command(BaseCommand):
    help = "Print the MTurk ExternalQuestion XML that frames the study's participant URL."

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug of the study")
        parser.add_argument("--frame-height", type=int, default=0, help="pixels; 0 = the whole window (default)")
        cli.add_base_url_option(parser)

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        if opts["frame_height"] < 0:
            raise CommandError("--frame-height must be 0 or more")
        try:
            xml = mturk.external_question_xml(
                cli.study_url(study, cli.base_url(opts["base_url"])), opts["frame_height"]
            )
        except mturk.MTurkError as exc:
            raise CommandError(f"{exc} (set --base-url or SURVEY_PUBLIC_BASE_URL to the https address)") from None
        self.stdout.write(xml, ending="")
        self.stderr.write(f"Printed the ExternalQuestion of study {study.slug}.")
