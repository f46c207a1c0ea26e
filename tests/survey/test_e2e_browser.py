"""End to end in a real browser: an MTurk worker completes the survey inside MTurk's frame.

A local page on another origin stands in for Mechanical Turk: it frames the study URL with the
ExternalQuestion parameters and records what its fake ``/mturk/externalSubmit`` receives.
Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by the project's
set-up) drives it. A missing browser is a failure, not a skip: the project installs it.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import pytest

from survey.models import Answer, Participant
from survey.testing import correct_position, make_explanation_set, make_study
from tests.browser import wait as _wait

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class FakeMTurk:
    """Serves the page that frames the study and records posts to /mturk/externalSubmit."""

    def __init__(self):
        self.frame_src = ""
        self.submissions: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = (
                    f"<!doctype html><title>Fake MTurk</title><h1>HIT</h1>"
                    f'<iframe id="hit" src="{fake.frame_src}" width="1200" height="900"></iframe>'
                ).encode()
                self._send(200, body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                if self.path == "/mturk/externalSubmit":
                    fake.submissions.append(parse_qs(self.rfile.read(length).decode()))
                    self._send(200, b'<!doctype html><p id="submitted">Submitted to the fake MTurk</p>')
                else:
                    self._send(404, b"not found")

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_mturk(settings):
    fake = FakeMTurk()
    # The stand-in plays Mechanical Turk: it may frame the study and receive the finish form.
    settings.SURVEY_FRAME_ANCESTORS = [fake.origin]
    settings.SURVEY_MTURK_SUBMIT_ORIGINS = [fake.origin]
    yield fake
    fake.close()


HEADING = "var h = document.querySelector('.progress-text'); return h ? h.textContent.trim() : 'no question';"


def _open_hit(browser, live_server, fake_mturk, study, worker):
    params = {
        "assignmentId": f"ASSIGN{worker}",
        "hitId": "HITE2E",
        "workerId": worker,
        "turkSubmitTo": fake_mturk.origin,
    }
    fake_mturk.frame_src = f"{live_server.url}/s/{study.slug}/?{urlencode(params)}"
    browser.get(fake_mturk.origin + "/")
    browser.switch_to.frame(_wait(browser, lambda d: d.find_element("id", "hit")))


@pytest.mark.parametrize(
    "methods",
    [None, ("normlime", "lime", "ig")],  # the paper's four; the study of three (30 real questions)
    ids=["the-papers-four-methods", "normlime-lime-ig"],
)
def test_a_worker_completes_the_whole_survey_inside_the_mturk_frame(browser, live_server, fake_mturk, methods):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    study = make_study(make_explanation_set(methods=methods), slug="e2e", methods=methods)
    k, n = study.n_options, study.n_questions
    _open_hit(browser, live_server, fake_mturk, study, "E2EWORKER")

    _wait(browser, lambda d: d.find_element(By.ID, "consent")).click()
    browser.find_element(By.ID, "start").click()
    _wait(browser, lambda d: d.find_element(By.ID, "begin")).click()

    participant = Participant.objects.get(worker_id="E2EWORKER")
    chosen: dict[int, int] = {}
    for _ in range(n):
        heading = _wait(browser, lambda d: d.find_element(By.CLASS_NAME, "progress-text")).text
        position = int(re.match(rf"Question (\d+) of {n}", heading).group(1))
        assert position == len(chosen) + 1
        images = browser.find_elements(By.CSS_SELECTOR, ".option img")
        assert len(images) == k and {(i.size["width"], i.size["height"]) for i in images}.__len__() == 1
        # Drawn, not blocked: the pictures are data: URLs, which the participant pages' CSP must allow.
        assert all(
            browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) > 0 for i in images
        )
        choice = correct_position(participant, position) or (position % k) + 1
        if position % 2:  # half by mouse, half by keyboard (digit key, then Enter)
            browser.find_element(By.CSS_SELECTOR, f"label[for=choice-{choice}]").click()
            browser.find_element(By.ID, "next").click()
        else:
            browser.find_element(By.TAG_NAME, "body").send_keys(str(choice))
            browser.find_element(By.ID, f"choice-{choice}").send_keys(Keys.ENTER)
        chosen[position] = choice
        _wait(browser, lambda d, before=heading.strip(): d.execute_script(HEADING) != before)  # the next page is in

    _wait(browser, lambda d: d.find_element(By.ID, "submit-hit")).click()
    _wait(browser, lambda d: d.find_element(By.ID, "submitted"))

    participant.refresh_from_db()
    assert fake_mturk.submissions == [
        {"assignmentId": ["ASSIGNE2EWORKER"], "completion_code": [participant.completion_code]}
    ]
    assert participant.is_finished and participant.checks_passed == 5 and participant.passed
    stored = dict(Answer.objects.filter(participant=participant).values_list("entry__position", "position"))
    assert stored == chosen
    assert all(a.shown_at <= a.answered_at for a in Answer.objects.filter(participant=participant))


def test_a_page_that_is_not_mturk_cannot_frame_the_study(browser, live_server, fake_mturk, settings):
    from selenium.webdriver.common.by import By

    study = make_study(make_explanation_set(), slug="framing")
    settings.SURVEY_FRAME_ANCESTORS = ["https://www.mturk.com", "https://workersandbox.mturk.com"]
    _open_hit(browser, live_server, fake_mturk, study, "FRAMED")
    # Chromium replaces a refused frame with its own error page: the consent form never appears.
    _wait(browser, lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.execute_script("return document.URL").startswith("chrome-error://")
    assert browser.find_elements(By.ID, "consent") == []
    browser.switch_to.default_content()
    browser.get(f"{live_server.url}/s/{study.slug}/")  # the same page at the top level works
    assert browser.find_elements(By.ID, "consent")


def test_a_worker_completes_a_study_of_three_named_colour_classes_and_reads_their_names(
    browser, live_server, fake_mturk
):
    from selenium.webdriver.common.by import By

    classes = ("circle", "square", "triangle")
    explanation_set = make_explanation_set(methods=("normlime", "lime"), classes=classes, shape=(3, 32, 32))
    study = make_study(explanation_set, slug="colours", methods=("normlime", "lime"))
    _open_hit(browser, live_server, fake_mturk, study, "COLOURWORKER")
    _wait(browser, lambda d: d.find_element(By.ID, "consent")).click()
    browser.find_element(By.ID, "start").click()
    _wait(browser, lambda d: d.find_element(By.ID, "begin")).click()

    participant = Participant.objects.get(worker_id="COLOURWORKER")
    named = set()
    for position in range(1, study.n_questions + 1):
        heading = _wait(browser, lambda d: d.find_element(By.CLASS_NAME, "progress-text")).text
        assert heading.startswith(f"Question {position} of {study.n_questions}")
        prompt = browser.find_element(By.CSS_SELECTOR, "mark.digit").text
        assert prompt in classes
        named.add(prompt)
        page = browser.find_element(By.TAG_NAME, "main").text
        assert "from the other two classes" in page
        images = browser.find_elements(By.CSS_SELECTOR, ".option img")
        assert len(images) == 2
        choice = correct_position(participant, position) or 1
        browser.find_element(By.CSS_SELECTOR, f"label[for=choice-{choice}]").click()
        browser.find_element(By.ID, "next").click()
        _wait(browser, lambda d, before=heading.strip(): d.execute_script(HEADING) != before)
    _wait(browser, lambda d: d.find_element(By.ID, "submit-hit")).click()
    _wait(browser, lambda d: d.find_element(By.ID, "submitted"))
    participant.refresh_from_db()
    assert named == set(classes)
    assert participant.is_finished and participant.passed
