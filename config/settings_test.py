"""Settings of the test suite: the development settings, unless the environment says otherwise.

``config.settings`` defaults to production (DEBUG off, a secret key required). The suite runs
against the development settings, as `make demo` does (plain static files storage, no SSL
redirect, ``testserver`` allowed); pytest-django still turns DEBUG off while each test runs.
pytest-django imports the settings before any conftest.py, so the variable is set here.
The production defaults themselves are tested in fresh interpreters (tests/config/test_settings.py).
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from .settings import *  # noqa: E402,F403
