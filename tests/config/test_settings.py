"""With no environment the settings are the production ones, and a missing secret key is one line.

Each case runs in a fresh interpreter with a clean environment (the suite itself runs on
config.settings_test, which turns DJANGO_DEBUG on).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path, **extra) -> dict[str, str]:
    """Only what a bare shell has, plus the data folder (so nothing is written into the checkout)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NORMLIME_DATA_DIR": str(tmp_path), **extra}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_settings_with_no_environment_but_a_secret_key_are_the_production_ones(tmp_path):
    code = (
        "import json; from config.boot import load_settings_or_exit; load_settings_or_exit('test');"
        "from django.conf import settings as s;"
        "print(json.dumps({k: getattr(s, k) for k in ('DEBUG', 'ALLOWED_HOSTS', 'SESSION_COOKIE_SECURE',"
        " 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECRET_KEY')}"
        " | {'static': s.STORAGES['staticfiles']['BACKEND']}))"
    )
    result = run(["-c", code], clean_env(tmp_path, DJANGO_SECRET_KEY="k" * 50))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "DEBUG": False,
        "ALLOWED_HOSTS": [],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECRET_KEY": "k" * 50,
        "static": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    }


@pytest.mark.parametrize("command", ["check", "migrate", "prepare_demo", "runserver"])
def test_without_a_secret_key_every_command_stops_with_one_line_saying_what_to_set(tmp_path, command):
    result = run(["manage.py", command], clean_env(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "manage.py: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (the default): set DJANGO_SECRET_KEY "
        "for production (docs/production.md), or DJANGO_DEBUG=1 for local development"
    ]
    assert not (tmp_path / "db.sqlite3").exists()  # stopped before touching anything


def test_a_wsgi_server_without_a_secret_key_stops_with_one_line_and_gunicorns_boot_error(tmp_path):
    result = run(["-c", "import config.wsgi"], clean_env(tmp_path))
    assert result.returncode == 3  # gunicorn's "worker failed to boot": the master stops, no restart loop
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(
        "config.wsgi: DJANGO_SECRET_KEY must be set"
    )


def test_the_wsgi_application_loads_the_urlconf_freezes_start_up_objects_and_lengthens_gil_slices(tmp_path):
    code = (
        "import gc, json, sys; import config.wsgi;"
        "print(json.dumps([gc.get_freeze_count(), 'config.urls' in sys.modules, 'torch' in sys.modules,"
        " sys.getswitchinterval()]))"
    )
    result = run(["-c", code], clean_env(tmp_path, DJANGO_SECRET_KEY="k" * 50))
    assert result.returncode == 0, result.stderr
    frozen, urls_loaded, torch_loaded, switch_interval = json.loads(result.stdout)
    assert frozen > 10_000 and urls_loaded and not torch_loaded
    assert switch_interval == pytest.approx(0.05)  # not the interpreter's 0.005


def test_a_malformed_variable_is_one_line_too(tmp_path):
    result = run(["manage.py", "check"], clean_env(tmp_path, DJANGO_DEBUG="maybe"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "manage.py: DJANGO_DEBUG='maybe' is not a boolean (use 1/0, true/false, yes/no, on/off)"
    ]


def test_local_development_opts_in_with_django_debug_and_needs_no_key(tmp_path):
    code = "from config.boot import load_settings_or_exit; load_settings_or_exit('test'); from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE)"
    result = run(["-c", code], clean_env(tmp_path, DJANGO_DEBUG="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]


def _database_settings(tmp_path, **extra) -> dict:
    code = (
        "import json; from config.boot import load_settings_or_exit; load_settings_or_exit('test');"
        "from django.conf import settings as s; d = s.DATABASES['default'];"
        "print(json.dumps({'OPTIONS': d.get('OPTIONS', {}), 'CONN_HEALTH_CHECKS': d['CONN_HEALTH_CHECKS'],"
        " 'CONN_MAX_AGE': d['CONN_MAX_AGE']}))"
    )
    result = run(["-c", code], clean_env(tmp_path, DJANGO_SECRET_KEY="k" * 50, **extra))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_connections_are_kept_health_checked_and_prepare_the_statements_they_run_often(tmp_path):
    values = _database_settings(tmp_path, DATABASE_URL="postgres://study@db.example.org:5432/normlime")

    assert values == {
        "OPTIONS": {"server_side_binding": True, "prepare_threshold": 5},
        "CONN_HEALTH_CHECKS": True,
        "CONN_MAX_AGE": 60,
    }


def test_a_pooler_in_transaction_mode_can_turn_prepared_statements_off(tmp_path):
    values = _database_settings(
        tmp_path, DATABASE_URL="postgres://study@db.example.org:5432/normlime", DATABASE_SERVER_SIDE_BINDING="0"
    )

    assert values["OPTIONS"] == {}
    assert values["CONN_HEALTH_CHECKS"] is True


def test_sqlite_gets_no_postgresql_options(tmp_path):
    assert _database_settings(tmp_path)["OPTIONS"] == {}
