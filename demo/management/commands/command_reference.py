from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from demo import reference


class Command(BaseCommand):
    help = (
        "Write docs/commands.md from the management commands' own parsers (every command of this project, "
        "every option); with --check, write nothing and exit 1 when the page and the parsers disagree."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="compare the page with the parsers instead of writing it"
        )
        parser.add_argument(
            "-o", "--out", type=Path, default=reference.PAGE, help="the page (default: docs/commands.md)"
        )

    def handle(self, *args, **opts):
        page = reference.render()
        out: Path = opts["out"]
        if opts["check"]:
            current = out.read_text(encoding="utf-8") if out.exists() else ""
            problem = reference.differences(page, current) if out.exists() else "the page does not exist"
            if problem:
                raise CommandError(
                    f"{out.name} is out of date ({problem}): run `manage.py command_reference` to rewrite it"
                )
            self.stdout.write(f"{out.name} matches the parsers")
            return
        if not out.parent.is_dir():
            raise CommandError(f"no such folder: {out.parent}")
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)
        self.stdout.write(f"wrote {out}")
