"""The URLconf stays light: participants' and researchers' list pages import no torch, SciPy or matplotlib.

Every gunicorn worker imports the URLconf on its first request, so whatever it pulls in is paid
by a participant. Only a fresh interpreter shows what a page imports, so the pages are served in
one (after another has built the database: the test builders themselves draw pictures with
matplotlib).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "scipy", "matplotlib")

pytestmark = pytest.mark.slow  # starts Django in fresh processes and serves every page

BUILD = """
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from survey.testing import make_explanation_set, make_study

call_command("migrate", verbosity=0)
make_study(make_explanation_set(), slug="s1")
User.objects.create_user("staff", password="x", is_staff=True)
"""

SERVE = """
import json, re, sys
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client

HEAVY = {heavy!r}
def heavy():
    return sorted({{name.split(".")[0] for name in sys.modules}} & set(HEAVY))

seen, status = {{}}, {{}}
client = Client()
mturk = {{"assignmentId": "A1", "hitId": "H1", "workerId": "W1", "turkSubmitTo": "https://workersandbox.mturk.com"}}
status["landing"] = client.get("/s/s1/", mturk).status_code
started = client.post("/s/s1/start/", {{**mturk, "consent": "on"}})
status["start"] = started.status_code
home = started["Location"]
status["instructions"] = client.get(home).status_code
page = client.get(home + "q/1/")
status["question"] = page.status_code
pictures = page.content.count(b'src="data:image/png;base64,')
status["answer"] = client.post(home + "q/1/", {{"item": re.search(r'name="item" value="(\\d+)"', page.content.decode()).group(1), "choice": 1}}).status_code
seen["participant"] = heavy()
client.force_login(User.objects.get(username="staff"))
status["study_list"] = client.get("/research/studies/").status_code
seen["study_list"] = heavy()
print(json.dumps({{"status": status, "heavy": seen, "pictures": pictures}}))
"""


def _run(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict:
    """Status codes and heavy modules after each page, served by a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY="test-only-key",
        DJANGO_ALLOWED_HOSTS="testserver",
        NORMLIME_DATA_DIR=str(tmp_path_factory.mktemp("data")),  # a SQLite database of its own
        DJANGO_LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    _run(BUILD, env)
    return json.loads(_run(SERVE.format(heavy=HEAVY), env).splitlines()[-1])


def test_the_pages_were_served(served):
    assert served["status"] == {
        "landing": 200,
        "start": 303,
        "instructions": 200,
        "question": 200,
        "answer": 303,
        "study_list": 200,
    }
    assert served["pictures"] == 4  # in the question page itself


def test_a_participant_imports_no_torch_scipy_or_matplotlib(served):
    assert served["heavy"]["participant"] == []


def test_the_researchers_study_list_imports_none_of_them_either(served):
    assert served["heavy"]["study_list"] == []
