from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from explainers import example_images


class Command(BaseCommand):
    help = (
        "Write a small image folder of three named RGB classes "
        f"({', '.join(example_images.CLASSES)}), drawn locally, for trying a data set of your own "
        "(--data imagefolder:DIR)."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", help="the folder to write (it must not hold images yet)")
        parser.add_argument(
            "--per-class", type=int, default=example_images.PER_CLASS, help="images per class (default %(default)s)"
        )
        parser.add_argument(
            "--size", type=int, default=example_images.SIZE, help="height and width in pixels (default %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")

    def handle(self, *args, **opts):
        out = Path(opts["out"])
        if opts["per_class"] < 2 or opts["size"] < 8:
            raise CommandError("--per-class must be at least 2 and --size at least 8")
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out}: exists and is not an empty folder")
        example_images.write_example_folder(out, opts["per_class"], opts["size"], opts["seed"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {opts['per_class']} images of each of {', '.join(example_images.CLASSES)} "
                f"({opts['size']} x {opts['size']} RGB) to {out}; use it with --data imagefolder:{out}"
            )
        )
