from django.core.wsgi import get_wsgi_application

from config.boot import load_settings_or_exit

# Status 3 is gunicorn's "worker failed to boot": its master stops with the one line instead of
# restarting workers that all fail the same way (with --preload the master itself prints and exits).
load_settings_or_exit("config.wsgi", status=3)
application = get_wsgi_application()
