"""Settings for the NormLIME study platform: one module, read from the environment.

With nothing set these are the production settings (DEBUG off, secure cookies,
HSTS, SSL redirect) and DJANGO_SECRET_KEY is required, so a deployment that
forgets a variable fails safe. Production sets DJANGO_SECRET_KEY,
DJANGO_ALLOWED_HOSTS and DATABASE_URL (docs/production.md). Local development
(`make demo`, `make serve`) sets DJANGO_DEBUG=1, which allows the built-in
development key; without DATABASE_URL the database is SQLite in var/.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Trained models, generated explanations and the SQLite database live here.
DATA_DIR = Path(env_str("NORMLIME_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        # One line (manage.py and wsgi.py print it without a traceback): what to set, both ways.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (the default): set DJANGO_SECRET_KEY "
            "for production (docs/production.md), or DJANGO_DEBUG=1 for local development"
        )
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 (development only)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "explainers",
    "survey",
    "analysis",
    "kar",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    DATA_DIR.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder (fresh clone)
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection is checked before a request uses it, so after a database restart the
        # site reconnects by itself instead of failing the first request of each thread.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, so psycopg prepares a statement the connection runs often
    # (its fifth run) and PostgreSQL plans it once per connection instead of on every request:
    # planning was most of the database's CPU per answer (docs/benchmarks.md). Off for a pooler
    # in transaction mode (pgbouncer), which cannot keep prepared statements.
    if env_bool("DATABASE_SERVER_SIDE_BINDING", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False  # English only; with it on, every number a template renders looks up the active language (~15 % of a question page's CPU)
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {
        "survey": {"level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    },
}

# --- survey app (issue 3) ------------------------------------------------------------------
# Participant pages may be framed only by Mechanical Turk (CSP frame-ancestors on those views;
# every other page keeps X-Frame-Options: DENY). The finish form may post only to these origins.
SURVEY_FRAME_ANCESTORS = env_list(
    "SURVEY_FRAME_ANCESTORS", ["https://www.mturk.com", "https://workersandbox.mturk.com"]
)
SURVEY_MTURK_SUBMIT_ORIGINS = env_list(
    "SURVEY_MTURK_SUBMIT_ORIGINS", ["https://www.mturk.com", "https://workersandbox.mturk.com"]
)
# Participants carry a signed token (not a cookie: third-party cookies are blocked in frames).
SURVEY_TOKEN_MAX_AGE = env_int("SURVEY_TOKEN_MAX_AGE", 30 * 24 * 3600)
# Absolute base of participant URLs printed by commands and used in the MTurk ExternalQuestion.
SURVEY_PUBLIC_BASE_URL = env_str("SURVEY_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
X_FRAME_OPTIONS = "DENY"
# --- end survey app ------------------------------------------------------------------------
