"""Opening and closing a study from the monitor and the study list: staff only, POST only, through set_study_status."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from survey.models import Study

pytestmark = pytest.mark.django_db


def url(study) -> str:
    return reverse("survey:study_status", args=[study.slug])


def test_the_page_is_the_studys_status(study):
    assert url(study) == "/research/studies/s1/status/"


@pytest.mark.parametrize("status", ["draft", "closed", "open"])
def test_a_post_changes_the_status_and_comes_back_to_the_monitor_with_a_message(staff_client, study, status):
    response = staff_client.post(url(study), {"status": status})
    assert response.status_code == 303 and response["Location"] == study.get_monitor_url()
    assert Study.objects.get().status == status
    assert f"Study s1 is now {status}." in staff_client.get(response["Location"]).content.decode()


def test_a_get_is_refused(staff_client, study):
    assert staff_client.get(url(study)).status_code == 405
    assert Study.objects.get().status == "open"


def test_an_unknown_status_is_refused_in_the_services_words(staff_client, study):
    response = staff_client.post(url(study), {"status": "paused"})
    assert response.status_code == 400
    assert "unknown status &#x27;paused&#x27; (use draft, open, closed)" in response.content.decode()
    assert Study.objects.get().status == "open"


def test_a_post_without_a_status_is_refused(staff_client, study):
    assert staff_client.post(url(study), {}).status_code == 400 and Study.objects.get().status == "open"


def test_an_unknown_study_is_a_404(staff_client, db):
    assert staff_client.post(reverse("survey:study_status", args=["nope"]), {"status": "open"}).status_code == 404


def test_anonymous_visitors_and_users_who_are_not_staff_are_sent_to_the_login(client, study):
    response = client.post(url(study), {"status": "closed"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(User.objects.create_user("plain", password="x"))
    assert client.post(url(study), {"status": "closed"}).status_code == 302
    assert Study.objects.get().status == "open"


def test_the_post_needs_the_csrf_token(study, staff_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    assert browser.post(url(study), {"status": "closed"}).status_code == 403
    assert Study.objects.get().status == "open"


def test_next_is_followed_only_to_a_page_of_this_site(staff_client, study):
    studies = reverse("survey:study_list")
    assert staff_client.post(url(study), {"status": "closed", "next": studies})["Location"] == studies
    for elsewhere in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = staff_client.post(url(study), {"status": "open", "next": elsewhere})
        assert response["Location"] == study.get_monitor_url()


def test_the_monitor_has_a_button_for_each_other_status(staff_client, study):
    html = staff_client.get(study.get_monitor_url()).content.decode()
    form = html[html.index(f'action="{url(study)}"') :]
    form = form[: form.index("</form>")]
    assert 'name="csrfmiddlewaretoken"' in form and 'name="next"' not in form
    assert '<button type="submit" name="status" value="draft">Back to draft</button>' in form
    assert '<button type="submit" name="status" value="open" disabled aria-pressed="true">Open</button>' in form
    assert '<button type="submit" name="status" value="closed">Close</button>' in form


def test_the_study_list_has_the_buttons_and_brings_the_researcher_back_to_it(staff_client, study):
    studies = reverse("survey:study_list")
    html = staff_client.get(studies).content.decode()
    assert f'action="{url(study)}"' in html and f'<input type="hidden" name="next" value="{studies}">' in html
    assert '<button type="submit" name="status" value="closed">Close</button>' in html


def test_the_study_list_links_the_create_page(staff_client, db):
    html = staff_client.get(reverse("survey:study_list")).content.decode()
    assert f'href="{reverse("survey:study_create")}" id="new-study">New study</a>' in html


def test_the_monitor_links_the_report_the_participant_url_the_preview_and_the_texts(staff_client, study):
    html = staff_client.get(study.get_monitor_url()).content.decode()
    assert f'<a href="{reverse("analysis:report", args=[study.slug])}" id="report-link">Analysis report</a>' in html
    assert '<a href="http://testserver/s/s1/" id="participant-url">http://testserver/s/s1/</a>' in html
    assert f'action="{reverse("survey:study_pilot", args=[study.slug])}"' in html
    assert f'href="{reverse("survey:study_texts", args=[study.slug])}" id="texts-link"' in html


def test_the_monitor_leaves_out_the_report_where_the_analysis_urls_are_not_installed(staff_client, study, settings):
    settings.ROOT_URLCONF = "tests.survey.urls_without_analysis"
    html = staff_client.get(study.get_monitor_url()).content.decode()
    assert 'id="report-link"' not in html and 'id="texts-link"' in html
