"""Fixtures of the explainers tests: a data folder of the test's own and a set registered in it."""

import pickle

import pytest

from explainers import render
from tests.explainers.bundling import write_set

_RENDERED: dict[bytes, bytes] = {}


@pytest.fixture
def data_dir(settings, tmp_path):
    """settings.DATA_DIR as a folder of the test (sets are stored under its explanations/)."""
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def paper_set(data_dir, db):
    """The set 'paper': random maps of the paper's four methods, in data_dir/explanations/paper, registered."""
    return write_set(data_dir / "explanations", "paper")


@pytest.fixture
def rendered_once(monkeypatch):
    """Each picture of the same maps drawn once per session (render is deterministic), where pictures do not matter."""

    def once(function):
        def drawn(*args, **kwargs):
            key = pickle.dumps((function.__name__, args, sorted(kwargs.items())))
            if key not in _RENDERED:
                _RENDERED[key] = function(*args, **kwargs)
            return _RENDERED[key]

        return drawn

    monkeypatch.setattr(render, "map_png", once(render.map_png))
    monkeypatch.setattr(render, "overview_png", once(render.overview_png))
