"""Researcher pages of the kar app: the Keep-And-Retrain results (staff only).

How results reach the page: ``manage.py run_kar`` writes each run into a
folder under ``settings.DATA_DIR / "kar"`` (``kar-default``, ``kar-paper``,
``roar-default``... or any ``--out`` placed there). The page lists those
folders, newest first, and shows the latest one -- table and figures -- read
from its files on every request (so a run in progress shows its cells so far).
Nothing is stored in the database.

The KAR modules import torch (seconds, hundreds of MB), so each view imports them when it runs,
after the staff check: the URLconf, and with it every participant's page, stays light.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from explainers import published

if TYPE_CHECKING:
    from .core import report as kar_report

from . import demo  # light: no torch (the page only reads a pid file)
from .locations import kar_root


@lru_cache(maxsize=1)
def downloads() -> dict[str, str]:
    """Files of a run folder the page may serve, and as what."""
    from .core import store

    return {
        **{name: "image/png" for name in store.FIGURES.values()},
        store.RESULTS: "text/csv; charset=utf-8",
        store.SUMMARY: "text/csv; charset=utf-8",
        store.COMPARISONS: "text/csv; charset=utf-8",
        store.VERDICTS: "application/json",
        store.REPORT_MD: "text/markdown; charset=utf-8",
        store.MANIFEST: "application/json",
    }


def _report(name: str) -> kar_report.Report:
    from .core import report as kar_report
    from .core.errors import KarError

    folder = kar_root() / name  # ``name`` is a slug (URL pattern): it cannot leave kar_root()
    if not folder.is_dir():
        raise Http404(f"No KAR results named {name}")
    try:
        return kar_report.load_report(folder)
    except KarError:
        raise Http404(f"No KAR results named {name}") from None


# While the shown run is running, the page reloads itself this often (seconds).
REFRESH_SECONDS = 10


def _context(report, reports) -> dict:

    spaces = report.manifest.get("feature_spaces", {}) if report else {}
    n_test = next((int(s["test"]) for s in spaces.values() if s.get("test")), None)
    # The demo's background run has no manifest during its first seconds (torch loading): say it is coming.
    demo_starting = report is None and demo.running_pid(kar_root()) is not None
    return {
        "refresh": REFRESH_SECONDS if (report and report.running) or demo_starting else None,
        "demo_starting": demo_starting,
        "report": report,
        "n_test": n_test,
        "one_digit": 100 / n_test if n_test else None,
        "reports": reports,
        "root": kar_root(),
        "paper_conv_90_others": published.KAR_CONV_90_OTHERS,
    }


@require_safe
@staff_member_required
def index(request):
    from .core import report as kar_report

    reports = kar_report.list_reports(kar_root())
    return render(request, "kar/report.html", _context(reports[0] if reports else None, reports))


@require_safe
@staff_member_required
def detail(request, name: str):
    from .core import report as kar_report

    report = _report(name)
    return render(request, "kar/report.html", _context(report, kar_report.list_reports(kar_root())))


@require_safe
@staff_member_required
def download(request, name: str, filename: str):
    if filename not in downloads():
        raise Http404(f"{filename} is not a KAR output")
    path = _report(name).out_dir / filename
    if not path.is_file():
        raise Http404(f"{name} has no {filename} yet")
    response = FileResponse(open(path, "rb"), content_type=downloads()[filename])
    response["Cache-Control"] = "private, no-cache"  # a running job rewrites these files
    return response
