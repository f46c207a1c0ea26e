"""What `make demo` prepares: a trained model and a registered explanation set, reused when present,
a demo study with simulated responses, a local researcher login, and a small KAR run in the background.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from django.core.management import call_command

from explainers import cli
from explainers.models import ExplanationSet
from explainers.services import register_explanation_set


def ensure_model(stdout) -> Path:
    path = cli.default_model_path()
    if path.is_file():
        stdout.write(f"Model: reusing {path}")
    else:
        call_command("train_model", out=str(path), stdout=stdout)
    return path


def ensure_explanations(stdout) -> ExplanationSet:
    out = cli.default_explanations_dir()
    name = out.name
    existing = ExplanationSet.objects.filter(name=name).first()
    if existing and (out / "maps.npz").is_file():
        stdout.write(f"Explanations: reusing set '{name}' in {out}")
        return existing
    if (out / "maps.npz").is_file() and (out / "manifest.json").is_file():
        # files from an earlier run but a fresh database: register them without recomputing
        with np.load(out / "maps.npz") as f:
            maps = {k: f[k] for k in f.files}
        manifest = json.loads((out / "manifest.json").read_text())
        stdout.write(f"Explanations: registering the existing files in {out}")
        return register_explanation_set(name, out, maps, manifest)
    call_command("generate_explanations", out=str(out), stdout=stdout)
    return ExplanationSet.objects.get(name=name)


DEMO_PARTICIPANTS = 88  # with 10% careless ones, about 80 kept: the paper kept 83
DEMO_RESEARCHER = ("researcher", "researcher")  # local demo only (DEBUG); printed by prepare_demo


def ensure_demo_study(explanation_set: ExplanationSet, stdout):
    """The open demo study with simulated responses (topped up to DEMO_PARTICIPANTS, never more)."""
    from analysis.simulate import simulate_study
    from survey.services import create_demo_study

    study = create_demo_study(explanation_set)
    survey_log = logging.getLogger("survey")
    level = survey_log.level
    survey_log.setLevel(logging.WARNING)  # one line per simulated start/finish would drown the URLs
    try:
        result = simulate_study(study, DEMO_PARTICIPANTS, None, 0.1, 0)
    finally:
        survey_log.setLevel(level)
    stdout.write(
        f"Demo study '{study.slug}': {result.created} simulated participants added"
        + (f" ({result.existing} already there)" if result.existing else "")
    )
    return study


def ensure_demo_researcher(stdout) -> tuple[str, str] | None:
    """A staff login for the researcher pages, only in DEBUG (a local demo): never in production."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    if not settings.DEBUG:
        stdout.write(
            "No demo researcher login: DJANGO_DEBUG is off (a deployment, not the local demo); "
            "create a login with `manage.py createsuperuser`"
        )
        return None
    username, password = DEMO_RESEARCHER
    User = get_user_model()
    if not User.objects.filter(username=username).exists():
        User.objects.create_superuser(username, f"{username}@localhost", password)
        stdout.write(f"Created the local demo researcher login '{username}'")
    return username, password


def ensure_demo_kar(explanation_set: ExplanationSet, stdout) -> None:
    """The small KAR run started in the background, unless it runs or has finished (``manage.py start_kar_demo``)."""
    call_command("start_kar_demo", explanation_set.name, stdout=stdout)
