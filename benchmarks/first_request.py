#!/usr/bin/env python
"""How long a fresh server process takes to answer its first participant requests.

A gunicorn worker imports the URLconf (and what the views import) on its first request, so a
participant who reaches a fresh worker waits for those imports. This script builds a study in a
temporary SQLite database (production settings: DJANGO_DEBUG=0, collected static files), then
several times starts a fresh interpreter that does what a worker does and times each step:

- ``setup``: ``django.setup()`` (with ``gunicorn --preload`` the master does this once, before forking)
- ``landing``: the first request, the study link as an MTurk worker opens it (URLconf imports included)
- ``start``, ``instructions``, ``question``: the next requests of the same participant

and lists the heavy modules (torch, SciPy, matplotlib, NumPy, statsmodels) loaded by then.
With ``--gunicorn`` it also starts gunicorn (one worker, --preload) and times the first landing
page over HTTP, from the moment the port accepts connections.

    .venv/bin/python benchmarks/first_request.py --runs 5
    .venv/bin/python benchmarks/first_request.py --runs 5 --gunicorn
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "scipy", "matplotlib", "numpy", "statsmodels")
MTURK = {"assignmentId": "A1", "hitId": "H1", "workerId": "W1", "turkSubmitTo": "https://workersandbox.mturk.com"}

BUILD = """
import django
django.setup()
from django.core.management import call_command
from survey.testing import make_explanation_set, make_study

call_command("migrate", verbosity=0)
call_command("collectstatic", verbosity=0, interactive=False)
make_study(make_explanation_set("first-request"), slug="first")
"""

# A fresh worker: time each step with the clock of this process.
WORKER = """
import json, sys, time
t0 = time.perf_counter()
import django
django.setup()
t_setup = time.perf_counter()
from django.test import Client

client = Client()
times, heavy = {"setup": t_setup - t0}, {}
def timed(name, call):
    start = time.perf_counter()
    response = call()
    times[name] = time.perf_counter() - start
    heavy[name] = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
    return response

mturk = MTURK
landing = timed("landing", lambda: client.get("/s/first/", mturk))
assert landing.status_code == 200, landing.status_code
started = timed("start", lambda: client.post("/s/first/start/", {**mturk, "consent": "on"}))
assert started.status_code == 303, started.status_code
home = started["Location"]
assert timed("instructions", lambda: client.get(home)).status_code == 200
assert timed("question", lambda: client.get(home + "q/1/")).status_code == 200
print(json.dumps({"times": times, "heavy": heavy}))
"""


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_STATIC_ROOT=str(data_dir / "static"),
        DJANGO_LOG_LEVEL="ERROR",
        NORMLIME_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
    )
    return env


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return done.stdout


def _fresh_worker(env: dict[str, str]) -> dict:
    code = f"HEAVY = {HEAVY!r}\nMTURK = {MTURK!r}\n{WORKER}"
    return json.loads(_python(code, env).splitlines()[-1])


def _gunicorn_first_landing(env: dict[str, str]) -> float:
    """Seconds from gunicorn accepting connections to the first landing page's last byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--preload",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.005)
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        query = "&".join(f"{k}={v}" for k, v in MTURK.items())
        conn.request("GET", f"/s/first/?{query}", headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"first landing page: HTTP {response.status}")
        return elapsed
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to time (default %(default)s)")
    parser.add_argument("--gunicorn", action="store_true", help="also time the first landing page of a fresh gunicorn")
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="first-request-"))
    try:
        env = _env(data_dir)
        print("Setting up: SQLite database, migrations, static files, a study ...", flush=True)
        _python(BUILD, env)
        runs = [_fresh_worker(env) for _ in range(args.runs)]
        steps = list(runs[0]["times"])
        report = {
            "runs": args.runs,
            "median_ms": {s: round(1000 * statistics.median(r["times"][s] for r in runs), 1) for s in steps},
            "max_ms": {s: round(1000 * max(r["times"][s] for r in runs), 1) for s in steps},
            "heavy_modules_loaded_after": runs[0]["heavy"],
            "load_average": os.getloadavg(),
        }
        if args.gunicorn:
            firsts = [_gunicorn_first_landing(env) for _ in range(args.runs)]
            report["gunicorn_first_landing_ms"] = {
                "median": round(1000 * statistics.median(firsts), 1),
                "max": round(1000 * max(firsts), 1),
            }
        print(json.dumps(report, indent=2))
        return 0
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
