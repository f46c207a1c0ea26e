import gc
import sys

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from config.boot import load_settings_or_exit

# Status 3 is gunicorn's "worker failed to boot": its master stops with the one line instead of
# restarting workers that all fail the same way (with --preload the master itself prints and exits).
load_settings_or_exit("config.wsgi", status=3)
application = get_wsgi_application()
# The URLconf (light: heavy pages import on use) at start-up rather than on a worker's first
# request, and then everything start-up made is frozen out of the garbage collector (as
# Python's gc.freeze documents for servers that fork: with --preload the workers share those
# pages, and their collections scan only what requests make).
get_resolver().url_patterns  # noqa: B018 (loads the URLconf now)
gc.freeze()
# Participant requests are short (5-15 ms of CPU) and give the GIL up at every database call; the
# default 5 ms switch interval made gunicorn's 8 threads per worker take it from each other
# mid-request, which cost CPU when many participants start at once (benchmarks/survey_load.py
# --participants 200 --think 5, gunicorn CPU per start: 21.1-22.6 ms in 3 runs, against
# 18.8-33.9 ms, mean 26.7, in 6 runs at 5 ms; suggestive, not significant). A CPU-bound page
# (a report) holds it for up to 50 ms at a time instead.
SWITCH_INTERVAL_S = 0.05
sys.setswitchinterval(SWITCH_INTERVAL_S)
