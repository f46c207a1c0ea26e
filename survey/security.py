"""Headers of participant pages: framable by Mechanical Turk only, a strict content policy."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from .platforms import prolific


def participant_csp() -> str:
    ancestors = " ".join(settings.SURVEY_FRAME_ANCESTORS) or "'none'"
    # The finish form posts to MTurk; the Prolific completion redirect follows a form post.
    form_targets = " ".join(["'self'", *settings.SURVEY_MTURK_SUBMIT_ORIGINS, prolific.ORIGIN])
    return (
        "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"form-action {form_targets}; frame-ancestors {ancestors}; base-uri 'none'"
    )


def participant_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a participant view: framable by MTurk only, never cached, token instead of CSRF cookie.

    Inside MTurk's frame the browser treats our cookies as third-party and may drop them, so
    these views use no cookie at all: the signed participant token in the URL identifies the
    participant and, being unguessable, also stops cross-site form posts (hence csrf_exempt).
    X-Frame-Options cannot name two origins, so it is left off here and CSP frame-ancestors
    (which browsers prefer anyway) says who may frame the page.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = participant_csp()
        response["Referrer-Policy"] = "same-origin"
        add_never_cache_headers(response)
        return response

    return csrf_exempt(xframe_options_exempt(wrapped))
