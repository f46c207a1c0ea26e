"""Helpers shared by the survey's management commands (bad input -> a one-line CommandError)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import CommandError

from .models import Study


def get_study(slug: str) -> Study:
    study = Study.objects.select_related("explanation_set").filter(slug=slug).first()
    if study is None:
        known = ", ".join(Study.objects.values_list("slug", flat=True)[:10]) or "none yet"
        raise CommandError(f"no study with slug {slug!r} (known: {known})")
    return study


def add_base_url_option(parser) -> None:
    parser.add_argument(
        "--base-url",
        default=None,
        help="public address of this site, e.g. https://study.example.org (default: SURVEY_PUBLIC_BASE_URL)",
    )


def base_url(option: str | None) -> str:
    value = (option or settings.SURVEY_PUBLIC_BASE_URL or "").rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise CommandError(f"--base-url {value!r}: give scheme and host only, e.g. https://study.example.org")
    return value


def study_url(study: Study, base: str) -> str:
    return base + study.get_absolute_url()
