"""What `make demo` prepares: a trained model and a registered explanation set, reused when present.

Later steps of the study (a demo survey, simulated responses) hook in here too.
"""
from __future__ import annotations

import json
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
