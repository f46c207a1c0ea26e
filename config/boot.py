"""Start-up of manage.py and the WSGI application: a configuration mistake is one line, not a traceback."""

from __future__ import annotations

import os
import sys


def load_settings_or_exit(program: str, status: int = 1) -> None:
    """Import the settings now; on ImproperlyConfigured print its one-line reason and exit with ``status``.

    Settings raise ImproperlyConfigured for what the person starting the site must fix (a missing
    DJANGO_SECRET_KEY, a malformed variable); Django would print a traceback that buries the reason.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 (the attribute access imports the settings module)
    except ImproperlyConfigured as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        sys.exit(status)
