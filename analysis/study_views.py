"""Researcher page of a study's analysis (staff only): the report of ``analyze_study``, live.

Computed on request from the database, so it is current as responses arrive. The figures and
downloads are rendered on request too. Only real participants count unless pilot or simulated
ones are ticked (GET ``include``, like ``analyze_study --include``); the figures and downloads
carry the same choice. One computation serves the page, its two figures and its downloads: the report is cached under a fingerprint of the study's answers (count, last
id and time, finished participants), so a new answer, participant or import is seen on the
next request. The bootstrap uses :data:`PAGE_N_BOOT` resamples here (the command's default is
10,000) to keep the page quick; the page says so.

The statistics import SciPy, statsmodels and matplotlib (seconds), so each view imports them
when it runs, after the staff check: the URLconf, and with it every participant's page, stays light.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from explainers import published
from survey.models import Answer, Participant, ParticipantKind, Study

if TYPE_CHECKING:
    from . import study as study_analysis

PAGE_N_BOOT = 2000
PAGE_SEED = 0
CACHE_SECONDS = 600


@lru_cache(maxsize=1)
def downloads() -> dict[str, tuple[str, Callable]]:
    """The report's files: name -> (content type, writer)."""
    from . import reports

    return {
        reports.REPORT_JSON: ("application/json", reports.write_report_json),
        reports.VOTES_CSV: ("text/csv; charset=utf-8", reports.write_votes_csv),
        reports.TUKEY_CSV: ("text/csv; charset=utf-8", reports.write_tukey_csv),
    }


#: The kinds a researcher may tick (real ones always count: analysis.study.included_kinds); the model's order.
INCLUDE_CHOICES = [(k, label) for k, label in ParticipantKind.choices if k != ParticipantKind.REAL]
INCLUDE_HINT = "tick them above the report to count them"


class ReportOptions(forms.Form):
    min_checks = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=10,
        label="Attention checks needed",
        help_text="Participants who got fewer checks right are excluded (empty: the study's threshold).",
    )
    include = forms.MultipleChoiceField(
        required=False,
        choices=INCLUDE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        label="Also count",
        help_text="Real participants always count; pilot and simulated ones only when ticked.",
    )


def _options(request: HttpRequest, study: Study) -> tuple[ReportOptions, int, tuple[str, ...]]:
    """The form, the attention threshold and the kinds of participant that count (real, and those ticked)."""
    from . import study as study_analysis

    form = ReportOptions(request.GET or None)
    min_checks, include = study.pass_threshold, ()
    if form.is_bound and form.is_valid():
        if form.cleaned_data["min_checks"] is not None:
            min_checks = form.cleaned_data["min_checks"]
        include = form.cleaned_data["include"]
    return form, min_checks, study_analysis.included_kinds(include)


def _fingerprint(study: Study) -> tuple:
    """Changes whenever an answer or a participant is added, removed or finishes."""
    answers = Answer.objects.filter(participant__study=study).aggregate(
        n=Count("id"), last=Max("id"), latest=Max("answered_at")
    )
    people = Participant.objects.filter(study=study).aggregate(
        n=Count("id"), last=Max("id"), finished=Count("id", filter=Q(status=Participant.Status.FINISHED))
    )
    return (
        study.pk,
        study.created_at.isoformat(),
        study.pass_threshold,
        answers["n"],
        answers["last"],
        answers["latest"].isoformat() if answers["latest"] else None,
        people["n"],
        people["last"],
        people["finished"],
    )


def page_report(
    study: Study, min_checks: int, kinds: tuple[str, ...] | None = None
) -> tuple[study_analysis.StudyReport | None, str | None]:
    """(report, None), or (None, why there is nothing to analyse yet); cached per data state and choice of kinds."""
    from . import study as study_analysis

    kinds = study_analysis.included_kinds(kinds)
    state = repr((_fingerprint(study), min_checks, kinds, PAGE_N_BOOT, PAGE_SEED)).encode()
    key = "analysis-study-report:" + hashlib.sha256(state).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        result = (
            study_analysis.analyze_study(study, min_checks, n_boot=PAGE_N_BOOT, seed=PAGE_SEED, include=kinds),
            None,
        )
    except study_analysis.NothingToAnalyse as exc:
        result = (None, str(exc))
    cache.set(key, result, CACHE_SECONDS)
    return result


def _query(min_checks: int, study: Study, kinds: tuple[str, ...] = ()) -> str:
    """The page's choices as a query string, for its figures and downloads (empty for the defaults)."""
    params: list[tuple[str, object]] = []
    if min_checks != study.pass_threshold:
        params.append(("min_checks", min_checks))
    params.extend(("include", k) for k, _ in INCLUDE_CHOICES if k in kinds)
    return "?" + urlencode(params) if params else ""


@require_safe
@staff_member_required
def report(request: HttpRequest, slug: str) -> HttpResponse:
    from . import reports
    from . import study as study_analysis

    study = get_object_or_404(Study.objects.select_related("explanation_set"), slug=slug)
    form, min_checks, kinds = _options(request, study)
    result, problem = page_report(study, min_checks, kinds)
    query = _query(min_checks, study, kinds)
    context = {
        "study": study,
        "form": form,
        "min_checks": min_checks,
        "kinds": kinds,
        "include_choices": [(k, label, k in kinds) for k, label in INCLUDE_CHOICES],
        "report": result,
        "problem": problem,
        "n_boot": PAGE_N_BOOT,
        "default_n_boot": study_analysis.DEFAULT_N_BOOT,
        "now": timezone.now(),
        "query": query,
        "paper": published.STUDY if result is not None and reports.compares_with_paper(result) else None,
    }
    if result is not None:
        a = result.analysis
        context.update(
            {
                "text": reports.text_report(result),
                "kinds_lines": reports.kinds_lines(result, INCLUDE_HINT),
                "votes": reports.vote_rows(result),
                "anova": a.anova,
                "anova_lm": a.anova_lm,
                "tukey": a.tukey,
                "friedman": a.friedman,
                "wilcoxon": a.wilcoxon,
                "hotelling": a.hotelling,
                "chi_square": a.chi_square,
                "exclusion_summary": result.exclusion_summary(),
                "figures": [
                    (name, reverse("analysis:figure", args=[study.slug, name]) + query) for name in reports.FIGURES
                ],
                "downloads": [
                    (name, reverse("analysis:download", args=[study.slug, name]) + query) for name in downloads()
                ],
            }
        )
    return render(request, "analysis/study_report.html", context)


def _report_or_404(request: HttpRequest, slug: str) -> study_analysis.StudyReport:
    study = get_object_or_404(Study, slug=slug)
    _, min_checks, kinds = _options(request, study)
    result, problem = page_report(study, min_checks, kinds)
    if result is None:
        raise Http404(f"Nothing to analyse yet: {problem}")
    return result


@require_safe
@staff_member_required
def figure(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    from . import reports

    if name not in reports.FIGURES:
        raise Http404("unknown figure")
    png = reports.figure_png(_report_or_404(request, slug), name)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, no-cache"  # the data change as responses arrive
    return response


@require_safe
@staff_member_required
def download(request: HttpRequest, slug: str, filename: str) -> HttpResponse:
    if filename not in downloads():
        raise Http404("unknown file")
    content_type, writer = downloads()[filename]
    result = _report_or_404(request, slug)
    buffer = io.StringIO()
    writer(result, buffer)
    response = HttpResponse(buffer.getvalue(), content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    stem, _, ext = filename.rpartition(".")
    response["Content-Disposition"] = f'attachment; filename="{slug}-{stem}-{stamp}.{ext}"'
    return response
