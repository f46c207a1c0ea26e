"""manage.py prepare_demo: reuses what exists, tops up the demo study, prints the URLs."""

import shutil
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from explainers.methods import registry
from explainers.models import ExplanationSet
from kar import demo as kar_demo
from survey.models import Participant, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def started(monkeypatch):
    """The command lines prepare_demo starts; each starts a sleeping stand-in named run_kar, not a KAR run."""
    calls, processes = [], []

    def spawn(args, **kwargs):
        calls.append(args)
        processes.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "run_kar"]))
        return processes[-1]

    monkeypatch.setattr(kar_demo, "spawn", spawn)
    yield calls
    for process in processes:
        process.kill()
        process.wait()


def test_it_reuses_the_model_and_maps_and_builds_an_analysed_demo_study(
    tiny_model_path, tiny_mnist_dir, tmp_path, settings, capsys, started
):
    settings.DATA_DIR = tmp_path
    settings.DEBUG = True  # a local demo (pytest runs with DEBUG off)
    model = tmp_path / "model" / "mnist_cnn.pt"
    model.parent.mkdir()
    shutil.copy(tiny_model_path, model)
    out = tmp_path / "explanations" / "default"
    call_command(
        "generate_explanations",
        out=str(out),
        model=str(model),
        mnist_dir=str(tiny_mnist_dir),
        per_class=2,
        num_samples=40,
        num_features=5,
        verbosity=0,
        option=["shap.patch=14"],  # 4 SHAP players: fast
    )
    ExplanationSet.objects.all().delete()  # a fresh database beside existing files
    mtime = (out / "maps.npz").stat().st_mtime

    call_command("prepare_demo", host="127.0.0.1:9999")
    printed = capsys.readouterr().out
    assert "Model: reusing" in printed and "registering the existing files" in printed
    assert (out / "maps.npz").stat().st_mtime == mtime  # nothing was recomputed
    assert ExplanationSet.objects.get(name="default").maps.count() == 10 * len(registry.METHODS)
    study = Study.objects.get(slug="demo")
    assert Participant.objects.filter(study=study).count() == 88
    assert get_user_model().objects.get(username="researcher").is_staff
    for path in ("/explanations/default/", "/s/demo/", "/research/studies/demo/report/", "/kar/"):
        assert f"http://127.0.0.1:9999{path}" in printed
    assert "KAR demo run: started in the background" in printed
    assert len(started) == 1 and started[0][2] == "run_kar"
    assert started[0][started[0].index("--out") + 1] == str(tmp_path / "kar" / kar_demo.NAME)

    call_command("prepare_demo")
    printed = capsys.readouterr().out
    assert "Explanations: reusing set 'default'" in printed
    assert Participant.objects.filter(study=study).count() == 88  # topped up, not doubled
    assert "KAR demo run: still running" in printed and len(started) == 1  # not a second run


def test_the_researcher_login_is_never_created_outside_debug(settings):
    from io import StringIO

    from demo.services import ensure_demo_researcher

    settings.DEBUG = False
    out = StringIO()
    assert ensure_demo_researcher(out) is None
    assert not get_user_model().objects.exists()
    assert out.getvalue().startswith("No demo researcher login: DJANGO_DEBUG is off")
