"""kar.core: the pure core imports no Django, and its modules form no import circle."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = ("errors", "masking", "spaces", "rankings", "cells", "spec", "store", "runner", "report")


@pytest.mark.parametrize("module", CORE)
def test_each_core_module_imports_alone_and_without_django(module):
    # Importing one module first (alone, in a fresh interpreter) fails on an import circle.
    code = f"import sys, kar.core.{module}; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"kar.core.{module}: {result.stderr[-500:]}"
