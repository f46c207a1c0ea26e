"""One navigation bar on every researcher page, and none on the participants' pages."""

import re

import pytest
from django.urls import reverse

from kar.core.store import MANIFEST, MANIFEST_KIND, write_json_atomic
from survey.testing import make_explanation_set, make_study

pytestmark = pytest.mark.django_db

NAV = re.compile(r'<nav class="research-nav".*?</nav>', re.S)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture
def pages(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    explanation_set = make_explanation_set("gallery")
    study = make_study(explanation_set, slug="pilot")
    run = tmp_path / "kar" / "kar-default"
    run.mkdir(parents=True)
    write_json_atomic(
        run / MANIFEST,
        {"kind": MANIFEST_KIND, "expected_cells": 1, "parameters": {"inputs": {"model_sha256": "d" * 64}}},
    )
    return {
        "researcher": [
            reverse("survey:study_list"),
            reverse("survey:monitor", args=[study.slug]),
            reverse("analysis:report", args=[study.slug]),
            reverse("explainers:set_list"),
            reverse("explainers:set_detail", args=[explanation_set.name]),
            reverse("kar:index"),
            reverse("kar:detail", args=["kar-default"]),
        ],
        "participant": [reverse("survey:landing", args=[study.slug])],
    }


def test_every_researcher_page_has_the_same_navigation_bar(staff_client, pages):
    client = staff_client
    bars = set()
    for url in pages["researcher"]:
        response = client.get(url)
        assert response.status_code == 200, url
        found = NAV.findall(response.content.decode())
        assert len(found) == 1, url
        bars.add(CSRF.sub("", found[0]))  # the logout form's token differs per response
    assert len(bars) == 1
    bar = bars.pop()
    for url in (
        reverse("survey:study_list"),
        reverse("explainers:set_list"),
        reverse("kar:index"),
        reverse("admin:index"),
    ):
        assert f'href="{url}"' in bar
    assert f'<form method="post" action="{reverse("admin:logout")}">' in bar and "Log out staff" in bar


def test_participant_pages_show_no_researcher_navigation(client, pages):
    for url in pages["participant"]:
        html = client.get(url).content.decode()
        assert 'class="study-header"' in html, url
        assert "research-nav" not in html and reverse("survey:study_list") not in html
        assert reverse("admin:index") not in html and reverse("kar:index") not in html
