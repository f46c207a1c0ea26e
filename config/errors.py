"""The site's answer to an unhandled error: a database that is away gets a short "try again" page.

A study runs for days, and its database restarts now and then (an upgrade, a failover, a crash
and its recovery). A request that meets it away raises ``OperationalError`` or ``InterfaceError``
from the driver; the answer it carried was in one transaction (``services.record_answer``), so
nothing of it is stored, and the participant only has to send it again. This handler tells them
so with a 503 and ``Retry-After`` instead of the 500 page, and the page reloads itself after that
pause. Django closes the broken connection at the end of the request, and
``CONN_HEALTH_CHECKS`` (settings) checks a kept one before the next request uses it, so the site
reconnects by itself once the database is back: no restart of the server is needed.

Every other error keeps Django's own 500 page.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger("survey")

RETRY_AFTER_S = 5  # seconds: a PostgreSQL restart takes 1-3 s here (docs/benchmarks.md)
DATABASE_AWAY = (OperationalError, InterfaceError)
TITLE = "Please try again in a moment"
MESSAGE = (
    "The study's server is briefly unavailable. Your earlier answers are saved; this page reloads "
    "itself in a few seconds (or reload it yourself), and then you can go on where you were."
)


def database_away(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is the database being unreachable."""
    while exc is not None:
        if isinstance(exc, DATABASE_AWAY):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: 503 + Retry-After when the database is away, Django's 500 page otherwise."""
    exc = sys.exc_info()[1]
    if not database_away(exc):
        return defaults.server_error(request)
    logger.warning("%s %s -> 503: the database is away (%s)", request.method, request.path, exc)
    context = {"title": TITLE, "message": MESSAGE, "retry_after": RETRY_AFTER_S}
    try:  # the page reads no database: the error template with no study
        body = render_to_string("survey/unavailable.html", context)
    except Exception:  # a broken template must not turn a 503 into a second error
        body = f"<!doctype html><title>{TITLE}</title><h1>{TITLE}</h1><p>{MESSAGE}</p>"
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response
