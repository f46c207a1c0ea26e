"""Settings helpers fail loudly on bad values."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list


def test_booleans_accept_the_usual_spellings(monkeypatch):
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env_bool("X_FLAG", True) is False


def test_a_bad_boolean_or_integer_raises_improperly_configured(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUM", 1)


def test_lists_are_comma_separated_and_trimmed(monkeypatch):
    monkeypatch.setenv("X_LIST", " a.example, b.example ,")
    assert env_list("X_LIST") == ["a.example", "b.example"]
    assert env_list("X_UNSET", ["z"]) == ["z"]


def test_the_default_sqlite_database_gets_its_folder_on_a_fresh_clone(tmp_path):
    import os
    import subprocess
    import sys

    data_dir = tmp_path / "not-yet" / "var"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(NORMLIME_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings")
    code = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (data_dir / "db.sqlite3").exists()
