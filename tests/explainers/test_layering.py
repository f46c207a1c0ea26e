"""The library layers import no Django (the layering rules in CONTRIBUTING.md: plain PyTorch, NumPy, SciPy, statsmodels)."""

import subprocess
import sys

import pytest

LIBRARY_MODULES = [
    "explainers.compute",
    "explainers.data",
    "explainers.files",
    "explainers.model",
    "explainers.render",
    "explainers.generation",
    "explainers.methods",
    "explainers.methods.path_integral",
    "explainers.methods.lime",
    "explainers.methods.aggregation",
    "explainers.methods.noisy_gradients",
    "explainers.methods.shap",
    "explainers.methods.random_baseline",
    "explainers.methods.registry",
    "explainers.multiple_testing",
    "explainers.published",
    "survey.rules",
    "analysis.stats",
    *(f"analysis.stats.{m}" for m in ("results", "paper", "design", "formatting", "validation", "analyze")),
    *(
        f"kar.core.{m}"
        for m in ("errors", "masking", "spaces", "rankings", "cells", "spec", "store", "runner", "report")
    ),
]


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_the_library_module_imports_without_django(module):
    code = f"import sys, {module}; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} pulled in Django: {result.stderr}"


APPS = ("explainers", "survey", "analysis", "kar", "demo", "config")
#: Who may use whom (imports, commands run with call_command, URLs built with reverse).
MAY_USE = {
    "explainers": {"explainers"},
    "survey": {"survey", "explainers"},
    "analysis": {"analysis", "survey", "explainers"},
    "kar": {"kar", "explainers"},
    "demo": set(APPS) - {"config"},
    "config": set(APPS) - {"demo"},  # settings and the URLconf name every app
}


def command_apps() -> dict[str, str]:
    """Each management command's name -> the app that defines it."""
    from pathlib import Path

    return {
        path.stem: app for app in APPS for path in Path(app).glob("management/commands/*.py") if path.stem != "__init__"
    }


def used_apps(folder: str) -> dict[str, set[str]]:
    """The apps that the Python files under ``folder`` use, by how: "import", "call_command", "reverse"."""
    import ast
    from pathlib import Path

    commands = command_apps()
    used: dict[str, set[str]] = {"import": set(), "call_command": set(), "reverse": set()}
    for path in Path(folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                used["import"].add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                used["import"].update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                value = node.args[0].value
                if name == "call_command" and isinstance(value, str) and value in commands:
                    used["call_command"].add(commands[value])  # Django's own (migrate, ...) belong to no app
                elif name == "reverse" and isinstance(value, str) and ":" in value:
                    used["reverse"].add(value.split(":")[0])
    return {how: apps & set(APPS) for how, apps in used.items()}


def imported_packages(folder: str) -> set[str]:
    """The project's apps that the Python files under ``folder`` import."""
    return used_apps(folder)["import"]


def test_kar_uses_only_explainers_and_nothing_imports_kar():
    assert imported_packages("kar") <= {"kar", "explainers"}
    for app in ("explainers", "survey", "analysis"):
        assert "kar" not in imported_packages(app), f"{app} imports kar"


def test_demo_may_use_every_app_and_nothing_imports_demo():
    assert imported_packages("demo") <= {"explainers", "survey", "analysis", "kar", "demo"}
    for app in ("explainers", "survey", "analysis", "kar", "config"):
        assert "demo" not in imported_packages(app), f"{app} imports demo"


@pytest.mark.parametrize("app", APPS)
def test_each_app_uses_only_the_apps_below_it_by_import_command_or_url(app):
    for how, apps in used_apps(app).items():
        assert apps <= MAY_USE[app], f"{app} uses {sorted(apps - MAY_USE[app])} by {how}"


def test_the_usage_scan_sees_commands_and_urls(tmp_path, monkeypatch):
    (tmp_path / "x.py").write_text(
        "from django.core.management import call_command\nfrom django.urls import reverse\n"
        "call_command('run_kar', out='x')\ncall_command('migrate')\nreverse('analysis:report', args=['s'])\nreverse('admin:index')\n"
    )
    monkeypatch.chdir(tmp_path)
    for app in APPS:  # the command names come from the checkout's apps
        (tmp_path / app / "management" / "commands").mkdir(parents=True)
    (tmp_path / "kar" / "management" / "commands" / "run_kar.py").write_text("")
    assert used_apps(".") == {"import": set(), "call_command": {"kar"}, "reverse": {"analysis"}}
