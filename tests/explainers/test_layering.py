"""The library layers import no Django (DESIGN.md: plain PyTorch, NumPy, SciPy, statsmodels)."""
import subprocess
import sys

import pytest

LIBRARY_MODULES = [
    "explainers.data",
    "explainers.files",
    "explainers.model",
    "explainers.render",
    "explainers.generation",
    "explainers.methods",
    "explainers.methods.integrated_gradients",
    "explainers.methods.lime",
    "explainers.methods.normlime",
    "explainers.methods.noise_tunnel",
    "explainers.methods.shap",
    "explainers.methods.random_baseline",
    "explainers.methods.registry",
    "analysis.stats",
    "analysis.kar",
]


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_the_library_module_imports_without_django(module):
    code = f"import sys, {module}; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} pulled in Django: {result.stderr}"
