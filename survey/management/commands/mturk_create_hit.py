from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from survey import cli
from survey.platforms import mturk


class Command(BaseCommand):
    help = "Create the study's HIT on Mechanical Turk (the sandbox unless --live); a retry never creates a second HIT."

    def add_arguments(self, parser):
        defaults = mturk.HitOptions()
        parser.add_argument("study", help="slug of the study")
        parser.add_argument(
            "--live", action="store_true", help="the real marketplace, paid with real money (default: sandbox)"
        )
        parser.add_argument("--reward", default=defaults.reward, help="US dollars per assignment (default %(default)s)")
        parser.add_argument(
            "--assignments", type=int, default=defaults.assignments, help="participants wanted (default %(default)s)"
        )
        parser.add_argument(
            "--lifetime-hours",
            type=float,
            default=defaults.lifetime_seconds / 3600,
            help="how long the HIT can be found (default %(default)s)",
        )
        parser.add_argument(
            "--duration-minutes",
            type=float,
            default=defaults.duration_seconds / 60,
            help="time a worker has once they accept (default %(default)s)",
        )
        parser.add_argument(
            "--auto-approve-hours",
            type=float,
            default=defaults.auto_approval_seconds / 3600,
            help="MTurk approves unreviewed work after this (default %(default)s)",
        )
        parser.add_argument("--title", default=defaults.title)
        parser.add_argument("--description", default=defaults.description)
        parser.add_argument("--keywords", default=defaults.keywords)
        parser.add_argument("--min-approval-rate", type=int, default=None, help="e.g. 95 (percent of approved work)")
        parser.add_argument("--min-approved-hits", type=int, default=None, help="e.g. 1000")
        parser.add_argument("--locale", action="append", default=[], help="country code; repeat for several (e.g. US)")
        parser.add_argument("--masters", action="store_true", help="Masters workers only")
        parser.add_argument(
            "--qualification", action="append", default=[], help="id of a qualification workers must hold"
        )
        parser.add_argument(
            "--batch", default="1", help="label of this HIT; a new label creates another HIT (default %(default)s)"
        )
        cli.add_base_url_option(parser)

    def handle(self, *args, **opts):
        study = cli.get_study(opts["study"])
        if not study.accept_mturk:
            raise CommandError(f"study {study.slug} does not accept Mechanical Turk participants")
        if not study.is_open:
            raise CommandError(
                f"study {study.slug} is {study.status}: open it first (manage.py set_study_status {study.slug} open)"
            )
        options = mturk.HitOptions(
            reward=opts["reward"],
            assignments=opts["assignments"],
            lifetime_seconds=round(opts["lifetime_hours"] * 3600),
            duration_seconds=round(opts["duration_minutes"] * 60),
            auto_approval_seconds=round(opts["auto_approve_hours"] * 3600),
            title=opts["title"],
            description=opts["description"],
            keywords=opts["keywords"],
            min_approval_rate=opts["min_approval_rate"],
            min_approved_hits=opts["min_approved_hits"],
            locales=opts["locale"],
            masters=opts["masters"],
            qualification_ids=opts["qualification"],
        )
        url = cli.study_url(study, cli.base_url(opts["base_url"]))
        try:
            result = mturk.create_hit(
                mturk.make_client(live=opts["live"]), study, url, options, live=opts["live"], batch=opts["batch"]
            )
        except mturk.MTurkError as exc:
            raise CommandError(str(exc)) from None
        except (BotoCoreError, ClientError) as exc:  # no credentials, network, MTurk refused
            raise CommandError(f"Mechanical Turk: {exc}") from None
        where = "live marketplace" if opts["live"] else "sandbox"
        hit = result.hit
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created HIT {hit.hit_id} in the {where}: {hit.max_assignments} assignments at ${hit.reward}, showing {url}."
                )
            )
        else:
            self.stdout.write(
                f"HIT {hit.hit_id} of batch {opts['batch']} already exists in the {where}; nothing created."
            )
        self.stdout.write(f"Workers find it at {mturk.worker_url(hit)}")
