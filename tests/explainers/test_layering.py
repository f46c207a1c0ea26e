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
    "analysis.stats",
    *(f"kar.core.{m}" for m in ("errors", "masking", "spaces", "rankings", "cells", "spec", "store", "runner", "report")),
]


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_the_library_module_imports_without_django(module):
    code = f"import sys, {module}; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} pulled in Django: {result.stderr}"


def imported_packages(folder: str) -> set[str]:
    """The first-party top-level packages that the Python files under ``folder`` import."""
    import ast
    from pathlib import Path

    first_party = {"explainers", "survey", "analysis", "kar", "demo", "config"}
    found = set()
    for path in Path(folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found & first_party


def test_kar_uses_only_explainers_and_nothing_imports_kar():
    assert imported_packages("kar") <= {"kar", "explainers"}
    for app in ("explainers", "survey", "analysis"):
        assert "kar" not in imported_packages(app), f"{app} imports kar"


def test_demo_may_use_every_app_and_nothing_imports_demo():
    assert imported_packages("demo") <= {"explainers", "survey", "analysis", "kar", "demo"}
    for app in ("explainers", "survey", "analysis", "kar", "config"):
        assert "demo" not in imported_packages(app), f"{app} imports demo"
