"""Where KAR's run folders live (light: the pages and the demo import it)."""

from pathlib import Path

from django.conf import settings


def kar_root() -> Path:
    """The folder of run folders: ``run_kar`` writes there by default, the KAR page lists it."""
    return Path(settings.DATA_DIR) / "kar"
