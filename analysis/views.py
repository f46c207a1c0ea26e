"""Researcher pages of the analysis app: the Keep-And-Retrain results (staff only).

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
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

if TYPE_CHECKING:
    from . import kar_report


@lru_cache(maxsize=1)
def downloads() -> dict[str, str]:
    """Files of a run folder the page may serve, and as what."""
    from . import kar

    return {
        **{name: "image/png" for name in kar.FIGURES.values()},
        kar.RESULTS: "text/csv; charset=utf-8",
        kar.SUMMARY: "text/csv; charset=utf-8",
        kar.MANIFEST: "application/json",
    }


def kar_root() -> Path:
    return Path(settings.DATA_DIR) / "kar"


def _report(name: str) -> kar_report.Report:
    from . import kar, kar_report

    folder = kar_root() / name  # ``name`` is a slug (URL pattern): it cannot leave kar_root()
    if not folder.is_dir():
        raise Http404(f"No KAR results named {name}")
    try:
        return kar_report.load_report(folder)
    except kar.KarError:
        raise Http404(f"No KAR results named {name}") from None


def _context(report, reports) -> dict:
    from . import kar_report

    spaces = report.manifest.get("feature_spaces", {}) if report else {}
    n_test = next((int(s["test"]) for s in spaces.values() if s.get("test")), None)
    return {
        "report": report,
        "n_test": n_test,
        "one_digit": 100 / n_test if n_test else None,
        "reports": reports,
        "root": kar_root(),
        "paper_conv_90_others": kar_report.PAPER_CONV_90_OTHERS,
    }


@require_safe
@staff_member_required
def kar_index(request):
    from . import kar_report

    reports = kar_report.list_reports(kar_root())
    return render(request, "analysis/kar_report.html", _context(reports[0] if reports else None, reports))


@require_safe
@staff_member_required
def kar_detail(request, name: str):
    from . import kar_report

    report = _report(name)
    return render(request, "analysis/kar_report.html", _context(report, kar_report.list_reports(kar_root())))


@require_safe
@staff_member_required
def kar_file(request, name: str, filename: str):
    if filename not in downloads():
        raise Http404(f"{filename} is not a KAR output")
    path = _report(name).out_dir / filename
    if not path.is_file():
        raise Http404(f"{name} has no {filename} yet")
    response = FileResponse(open(path, "rb"), content_type=downloads()[filename])
    response["Cache-Control"] = "private, no-cache"  # a running job rewrites these files
    return response
