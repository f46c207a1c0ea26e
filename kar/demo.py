"""The demo's small KAR run: started by ``prepare_demo`` in the background, followed on the KAR page.

The default ``run_kar`` grid takes minutes (README: 249 s on an idle machine, 12 min under load),
too long to hold up ``make demo``. So ``prepare_demo`` starts this small grid as a detached
``manage.py run_kar`` process at a lower CPU priority and returns at once; the site is served
while it runs, and the KAR page shows its progress (cells in ``results.csv`` against the
manifest's ``expected_cells``) until it ends, then its figures.

Light on purpose (no torch, no NumPy): the KAR page imports it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from django.conf import settings

logger = logging.getLogger(__name__)

NAME = "kar-demo-small"  # the run's folder under the KAR root (a slug: it is part of the page's URL)
# Pixels only, and every method ranks from 2 training images per class (the default grid: 10), so
# the rankings take seconds before the first retraining; 3 epochs per cell. The explanation set is
# the one the run is checked against (same model, same data).
OPTIONS = (
    "--feature-sets",
    "pixels",
    "--thresholds",
    "50,90",
    "--runs",
    "1",
    "--epochs",
    "3",
    "--per-class",
    "2",
)
LABEL = (
    "Small demo run started by prepare_demo: input pixels only, 50 and 90 % removed, 1 run, 3 epochs per "
    "retraining, small ranking samples. It shows the machinery in minutes; it is not the default grid "
    "(run_kar) or the paper's (run_kar --paper)."
)
RUN_MANIFEST = "manifest.json"  # = kar.core.store.MANIFEST (a test checks); importing the core would load torch
PID_FILE = "demo.pid"  # the background process; ``prepare_demo`` starts no second one while it lives
LOG_FILE = "demo.log"
NICENESS = 10  # below the web server, so the site answers at once while the run trains


def folder(kar_root: Path) -> Path:
    return Path(kar_root) / NAME


def command(kar_root: Path, explanation_set: str) -> list[str]:
    """The ``manage.py run_kar`` command line of the demo run."""
    return [
        sys.executable,
        str(Path(settings.BASE_DIR) / "manage.py"),
        "run_kar",
        "--out",
        str(folder(kar_root)),
        "--explanations",
        explanation_set,
        "--label",
        LABEL,
        *OPTIONS,
        "--verbosity",
        "0",
    ]


def finished(kar_root: Path) -> bool:
    """run_kar has marked the demo run complete (its last session ended with every cell done)."""
    try:
        manifest = json.loads((folder(kar_root) / RUN_MANIFEST).read_text(encoding="utf-8"))
        return manifest["sessions"][-1]["status"] == "complete"
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False


def running_pid(kar_root: Path) -> int | None:
    """The pid of the demo's run_kar process if it is still alive, else None."""
    try:
        pid = int((folder(kar_root) / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, someone else's
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid  # no /proc (not Linux): trust the signal
    # After a reboot the number may belong to another program. (The command line reads empty for a
    # moment while a process is being started: then it is ours.)
    return pid if not cmdline or b"run_kar" in cmdline else None


def _lower_priority() -> None:  # runs in the child between fork and exec, after setsid
    os.nice(NICENESS)
    try:
        # Linux's autogroups: a new session is its own scheduling group, and a process's niceness only
        # counts within its group; the group's own niceness sets its share against the web server's.
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(NICENESS))
    except OSError:
        pass  # no autogroups here: the process's niceness is what counts


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """Start a process (a module attribute, so that tests can replace it)."""
    return subprocess.Popen(args, **kwargs)


def ensure_started(
    kar_root: Path,
    explanation_set: str,
    stdout: TextIO,
    *,
    popen: Callable[..., subprocess.Popen] | None = None,
) -> str:
    """Start the demo run in the background unless it is running or has finished; says which in one line.

    Returns "finished", "running" or "started". A run that stopped half-way (the machine was
    shut down) is started again and resumes from its results.csv.
    """
    out = folder(kar_root)
    if finished(kar_root):
        stdout.write(f"KAR demo run: finished earlier, in {out}")
        return "finished"
    pid = running_pid(kar_root)
    if pid is not None:
        stdout.write(f"KAR demo run: still running in the background (pid {pid}; log {out / LOG_FILE})")
        return "running"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOG_FILE, "ab") as log:
        process = (popen or spawn)(
            command(kar_root, explanation_set),
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives prepare_demo; Ctrl-C on the server spares it
            preexec_fn=_lower_priority if hasattr(os, "nice") else None,
        )
    (out / PID_FILE).write_text(f"{process.pid}\n")
    logger.info("started the KAR demo run, pid %s", process.pid)
    stdout.write(
        f"KAR demo run: started in the background (pid {process.pid}, lower CPU priority; log {out / LOG_FILE}); "
        "the KAR page shows its progress"
    )
    return "started"
