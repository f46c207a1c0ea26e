"""Fixtures of the survey tests (builders live in survey/testing.py, shared with the benchmark)."""

from __future__ import annotations

import pytest

from survey.testing import fake_pictures, make_explanation_set, make_study


@pytest.fixture
def pictures():
    return fake_pictures()


@pytest.fixture
def explanation_set(db):
    return make_explanation_set()


@pytest.fixture
def study(explanation_set):
    return make_study(explanation_set)


@pytest.fixture
def migrate_to(transactional_db):
    """Migrate the test database to ``targets`` and return that state's apps; back to the latest state afterwards."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def to(targets):
        executor = MigrationExecutor(connection)  # a fresh loader: it reads what is applied now
        executor.migrate(targets)
        # The state of everything applied now, not only the targets' ancestors: another app's later
        # migrations (explainers' layout column) stay applied, and its models must have their columns.
        applied = MigrationExecutor(connection).loader.applied_migrations
        return executor.loader.project_state(tuple(applied)).apps

    yield to
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
