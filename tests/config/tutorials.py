"""Running a docs page's console blocks as written: the ``$ `` lines, in order, in a sandbox checkout."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def console_commands(markdown: str) -> list[str]:
    """The ``$ `` lines of the page's console blocks, in order (a trailing backslash continues a line)."""
    commands: list[str] = []
    for block in CONSOLE.findall(markdown):
        pending = ""
        for line in block.splitlines():
            if not line.startswith("$ ") and not pending:
                continue  # a command's output
            text = line[2:] if not pending else line
            if text.endswith("\\"):
                pending += text[:-1]
                continue
            commands.append(pending + text)
            pending = ""
    return commands


def sandbox(tmp_path: Path) -> Path:
    """A working folder that looks like a checkout (the tutorial writes study.toml and the bundle into it)."""
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("manage.py", "Makefile", "requirements.txt", "requirements-dev.txt", ".venv", "docs", "results"):
        (work / name).symlink_to(ROOT / name)
    return work


def run_script(script: list[str], cwd: Path, env: dict[str, str], env_out: Path) -> None:
    body = "\n".join(["set -euo pipefail", *script, f"env -0 > {shlex.quote(str(env_out))}"])
    done = subprocess.run(["bash", "-c", body], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"tutorial commands failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def shrunk(command: str, shrink: dict[str, str]) -> str:
    """``command`` with the flags ``shrink`` gives its management command appended (later flags win)."""
    for name, extra in shrink.items():
        if f"manage.py {name}" in command:
            return f"{command} {extra}"
    return command


def clean_env() -> dict[str, str]:
    """This process's environment without the project's settings, as a fresh shell would start."""
    prefixes = ("DJANGO_", "DATABASE_", "SURVEY_", "NORMLIME_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
