"""docs/tutorial-own-study.md, run as written: its console commands in order, on fresh databases.

The laptop part runs on one SQLite database and data folder, the server part (after its
``export`` lines) on another, so the explanation set really moves by its bundle and the study by
its ``study.toml``. The tutorial's commands are run unchanged except for these, listed here so a
reader can see everything the test alters:

* ``SHRINK``: fewer epochs and smaller maps, so that training stays out of the suite's time;
* ``SERVER_ENV``: the server's database, data folder and static files are files of the test, not
  PostgreSQL and folders under /srv (the commands are the same);
* when the tutorial opens the study, the test serves the server's database with gunicorn on
  loopback (production settings: DEBUG off, the TLS proxy's header) and takes it as Prolific
  participants would, three who answer the attention checks right and one who does not.

Then it checks what the tutorial promises: the Prolific ids that passed and failed, the export's
participant kinds, and an analysis that counts only the real participants.
"""

from __future__ import annotations

import csv
import http.client
import json
import re
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.config.tutorials import ROOT, clean_env, console_commands, run_script, sandbox, shrunk

TUTORIAL = ROOT / "docs" / "tutorial-own-study.md"
#: Flags appended to the tutorial's heavy commands (the rest of each line is run as written).
SHRINK = {
    "train_model": "--epochs 1",
    "generate_explanations": "--per-class 2 --num-samples 60 --images-per-class 1",
}
#: The tutorial's open command: the participants take the study right after it.
OPEN_STUDY = "set_study_status my-study open"
PASSERS = ("PPASS00001", "PPASS00002", "PPASS00003")
FAILERS = ("PFAIL00001",)

pytestmark = pytest.mark.slow


def _server_env(command: str, server: Path) -> str:
    """The server's database and data folder as files of the test (see the module's docstring)."""
    if command.startswith("export DATABASE_URL="):
        return f"export DATABASE_URL=sqlite:///{server / 'db.sqlite3'}"
    if command.startswith("export NORMLIME_DATA_DIR="):
        return f"export NORMLIME_DATA_DIR={server}"
    if command.startswith("export DJANGO_STATIC_ROOT="):
        return f"export DJANGO_STATIC_ROOT={server / 'static'}"
    return command


def _read_env(path: Path) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in path.read_text().split("\0") if "=" in item]
    return dict(pairs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Participant:
    """A Prolific participant's browser behind the TLS proxy (which sets X-Forwarded-Proto)."""

    def __init__(self, port: int, host: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.host = host

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, str]:
        headers = {"Host": self.host, "X-Forwarded-Proto": "https", "User-Agent": "tutorial-test"}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()


def _choice(database: Path, pid: str, position: int, right: bool) -> int:
    """The on-screen position to choose: the correct picture of a check (or a wrong one); any map otherwise."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT so.position, io.is_correct, i.kind FROM survey_shownoption so "
            "JOIN survey_sheetentry se ON so.entry_id = se.id JOIN survey_participant p ON se.participant_id = p.id "
            "JOIN survey_itemoption io ON so.option_id = io.id JOIN survey_item i ON se.item_id = i.id "
            "WHERE p.prolific_pid = ? AND se.position = ? ORDER BY so.position",
            (pid, position),
        ).fetchall()
    if rows[0][2] != "attention":
        return rows[0][0]
    return next(pos for pos, correct, _ in rows if bool(correct) == right)


def _take_part(port: int, host: str, database: Path, pid: str, right: bool) -> str:
    """One participant from the Prolific link to the completion redirect; returns that redirect."""
    browser = Participant(port, host)
    params = {"PROLIFIC_PID": pid, "STUDY_ID": "STUDY1", "SESSION_ID": f"S{pid}"}
    status, _, page = browser.request("GET", f"/s/my-study/?{urlencode(params)}")
    assert status == 200 and "Dr Ada Lovelace" in page, status  # the study file's consent details
    status, headers, _ = browser.request("POST", "/s/my-study/start/", {**params, "consent": "on"})
    assert status == 303, status
    home = urlsplit(headers["location"]).path
    position: int | None = 1
    while position is not None:
        status, _, page = browser.request("GET", f"{home}q/{position}/")
        assert status == 200, (status, position)
        item = re.search(r'name="item" value="(\d+)"', page).group(1)
        choice = _choice(database, pid, position, right)
        status, headers, _ = browser.request("POST", f"{home}q/{position}/", {"item": item, "choice": choice})
        assert status == 303, (status, position)
        match = re.search(r"/q/(\d+)/$", urlsplit(headers["location"]).path)
        position = int(match.group(1)) if match else None
    status, headers, _ = browser.request("GET", f"{home}finish/")
    assert status == 302, status
    return headers["location"]


def test_the_tutorial_runs_from_the_laptop_to_the_analysis(tmp_path):
    commands = console_commands(TUTORIAL.read_text(encoding="utf-8"))
    assert any(OPEN_STUDY in c for c in commands), "the tutorial no longer opens the study as the test expects"
    split = next(i for i, c in enumerate(commands) if OPEN_STUDY in c) + 1
    server = tmp_path / "server"
    server.mkdir()
    script = [_server_env(shrunk(c, SHRINK), server) for c in commands]
    work = sandbox(tmp_path)
    env = clean_env()
    env["NORMLIME_DATA_DIR"] = str(tmp_path / "laptop")  # the laptop's SQLite and files, not the checkout's var/

    run_script(script[:split], work, env, tmp_path / "env-a")
    env = _read_env(tmp_path / "env-a")
    assert env["DATABASE_URL"] == f"sqlite:///{server / 'db.sqlite3'}"
    host = env["DJANGO_ALLOWED_HOSTS"].split(",")[0]

    port = _free_port()
    gunicorn = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        redirects = {pid: _take_part(port, host, server / "db.sqlite3", pid, right=True) for pid in PASSERS}
        redirects |= {pid: _take_part(port, host, server / "db.sqlite3", pid, right=False) for pid in FAILERS}
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    assert all(url.endswith("cc=C1A2B3C4") for pid, url in redirects.items() if pid in PASSERS)
    assert all(url.endswith("cc=F0A1L2E3") for pid, url in redirects.items() if pid in FAILERS)

    run_script(script[split:], work, env, tmp_path / "env-b")

    assert (work / "passed.txt").read_text().split() == list(PASSERS)
    assert (work / "failed.txt").read_text().split() == list(FAILERS)
    with open(work / "my-study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["prolific_pid"] for r in rows} == {*PASSERS, *FAILERS}
    assert {r["participant_kind"] for r in rows} == {"real"}
    assert len(rows) == 4 * 35  # 30 real questions and 5 attention checks each
    report = json.loads((work / "my-study-analysis" / "report.json").read_text())
    assert report["participants"]["kinds_included"] == ["real"]
    assert report["participants"]["kept_by_kind"] == {"real": len(PASSERS)}
