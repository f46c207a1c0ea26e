import gc

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
get_resolver().url_patterns
gc.freeze()
