"""The study's texts on the participant pages: typed markup shown as text, and the defaults' wording unchanged."""

import re
from html import unescape

import pytest
from django.urls import reverse

from survey import services
from survey.models import Participant, SheetEntry
from survey.pictures import DATA_URL
from survey.testing import answer_all
from survey.tokens import make_token

pytestmark = pytest.mark.django_db

# Markup a researcher might type (or paste); ``{{ ... }}`` is a literal brace pair in a study text.
HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> {{ study.slug }}"
HOSTILE_SHOWN = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; { study.slug }"
SHORT = "<script>alert(3)</script>"  # for the one-line details (researcher, institution, payment)
SHORT_SHOWN = "&lt;script&gt;alert(3)&lt;/script&gt;"
MTURK_PREVIEW = {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "3HIT"}


def words(html: str) -> str:
    """The text a participant reads: pictures, tags and runs of white space gone, entities read."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", DATA_URL.sub("", html))).split())


def section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def assert_shown_as_text(html: str, shown: str = HOSTILE_SHOWN) -> None:
    assert shown in html
    assert "<script>alert" not in html and "<img src=x" not in html


@pytest.fixture
def hostile(study):
    return services.update_texts(
        study,
        consent_text=HOSTILE,
        instructions_text=HOSTILE,
        question_prompt=HOSTILE + " {label}",
        completion_message=HOSTILE,
        error_contact=HOSTILE,
        researcher=SHORT,
        institution=SHORT,
        payment=SHORT,
    )


def direct_participant(study) -> Participant:
    participant, _ = services.start_participant(study, services.EntryParams(platform=Participant.Platform.DIRECT))
    return participant


def page(client, name: str, participant: Participant, **kwargs):
    token = make_token(participant.public_id)
    return client.get(reverse(name, kwargs={"slug": participant.study.slug, "token": token, **kwargs}))


# --- markup typed into a text is shown as text ------------------------------------------------------


def test_markup_in_the_consent_text_and_details_is_shown_as_text(client, hostile):
    html = client.get(reverse("survey:landing", args=[hostile.slug])).content.decode()
    assert_shown_as_text(html)
    assert html.count(SHORT_SHOWN) == 3  # researcher, institution, payment


def test_markup_in_the_instructions_is_shown_as_text(client, hostile):
    response = page(client, "survey:home", direct_participant(hostile))
    assert response.status_code == 200
    assert_shown_as_text(response.content.decode())


def test_markup_in_the_instructions_is_shown_as_text_in_the_mturk_preview_too(client, hostile):
    html = client.get(reverse("survey:landing", args=[hostile.slug]), MTURK_PREVIEW).content.decode()
    assert "Accept the HIT" in html
    assert_shown_as_text(html)


def test_markup_in_the_question_prompt_is_shown_as_text_and_the_label_still_highlighted(client, hostile):
    participant = direct_participant(hostile)
    html = page(client, "survey:question", participant, position=1).content.decode()
    digit = SheetEntry.objects.get(participant=participant, position=1).item.digit
    assert f'<legend class="prompt">{HOSTILE_SHOWN} <mark class="digit">{digit}</mark></legend>' in html
    assert_shown_as_text(html)


def test_markup_in_the_completion_message_is_shown_as_text(client, hostile):
    participant = direct_participant(hostile)
    answer_all(participant)
    response = page(client, "survey:finish", participant)
    assert response.status_code == 200 and 'id="completion-code"' in response.content.decode()
    assert_shown_as_text(response.content.decode())


def test_markup_in_the_error_contact_is_shown_as_text(client, hostile):
    response = client.get(reverse("survey:landing", args=[hostile.slug]), {"workerId": "not an id!"})
    assert response.status_code == 400
    assert_shown_as_text(response.content.decode())


# --- the defaults read as the pages did before the texts were the study's ----------------------------


def test_the_default_consent_page_shows_the_consent_and_only_the_details_that_are_set(client, study):
    html = client.get(reverse("survey:landing", args=[study.slug])).content.decode()
    consent = words(section(html, '<div class="consent-text">', "</dl>"))
    assert consent.startswith("This is a research study about how people judge pictures")
    assert "You will see 25 sets of four images" in consent and "It takes about 10 minutes." in consent
    assert "Expected duration about 10 minutes" in consent
    for unset in ("Researcher", "Institution", "Contact", "Payment", "mailto:"):
        assert unset not in consent


def test_the_consent_page_shows_the_researcher_institution_contact_and_payment_once_set(client, study):
    services.update_texts(
        study,
        researcher="Dr Ada Lovelace",
        institution="University of X",
        contact_email="ada@example.org",
        payment="£1.50",
    )
    html = client.get(reverse("survey:landing", args=[study.slug])).content.decode()
    details = words(section(html, '<dl class="meta study-details">', "</dl>"))
    assert details == (
        "Researcher Dr Ada Lovelace Institution University of X Contact ada@example.org "
        "Payment £1.50 Expected duration about 10 minutes"
    )
    assert '<a href="mailto:ada@example.org">ada@example.org</a>' in html


def test_the_default_instructions_read_as_before(client, study):
    html = page(client, "survey:home", direct_participant(study)).content.decode()
    assert words(section(html, '<section class="instructions"', "</section>")) == (
        "Instructions For each set of images, please select the image that best highlights the pixels that are "
        "most important in distinguishing this particular number from the other nine numbers. For example, with "
        "the image of the number 4, the red pixels inside of the blue oval constituting the corner of the arm of "
        "the four might be considered more important than other pixels in the image because these pixels are NOT "
        "activated in images of most representations of the other nine numbers but ARE activated often in images "
        "of other fours. Therefore, a model that produces an image that highlights these circled pixels when "
        "generating the explanatory image might be considered better at explaining the number four than others "
        "that don't. Pay close attention to the number that each model is trying to represent. This number is "
        "highlighted in yellow in the description above each set of four images. This number is always the same "
        "as the “Label” above each image in each set."
    )


def test_the_default_instructions_keep_the_example_picture_beside_the_example_paragraph(client, study):
    html = page(client, "survey:home", direct_participant(study)).content.decode()
    example = section(html, '<div class="example">', "</div>")
    assert DATA_URL.search(example) and "For example, with the image of the number 4" in example
    assert "For each set of images" not in example and "Pay close attention" not in example


def test_the_default_question_prompt_is_the_papers_wording_with_the_digit_highlighted(client, study):
    participant = direct_participant(study)
    html = page(client, "survey:question", participant, position=1).content.decode()
    digit = SheetEntry.objects.get(participant=participant, position=1).item.digit
    assert (
        '<legend class="prompt">From the following set of four images, please select the image that best '
        f'highlights the pixels that distinguish the number <mark class="digit">{digit}</mark> from the other '
        "nine possible digits.</legend>"
    ) in html


def test_the_default_finish_page_thanks_and_counts_the_questions(client, study):
    participant = direct_participant(study)
    answer_all(participant)
    html = page(client, "survey:finish", participant).content.decode()
    assert "<p>Thank you for taking part. You have answered all 25 questions.</p>" in html


def test_the_default_error_page_asks_to_contact_the_researchers(client, study):
    html = client.get(reverse("survey:landing", args=[study.slug]), {"workerId": "not an id!"}).content.decode()
    assert "Nothing you did has been lost. If you think this is a mistake, please contact the researchers." in html
    assert "mailto:" not in html


def test_an_error_page_of_no_known_study_has_the_default_contact(client, db):
    html = client.get(reverse("survey:landing", args=["nope"])).content.decode()
    assert "If you think this is a mistake, please contact the researchers." in html


def test_an_error_page_of_a_study_with_a_contact_email_links_it(client, study):
    services.update_texts(study, contact_email="ada@example.org", error_contact="Write to Ada.")
    html = client.get(reverse("survey:landing", args=[study.slug]), {"workerId": "not an id!"}).content.decode()
    assert "Nothing you did has been lost. Write to Ada." in html
    assert '<a href="mailto:ada@example.org">ada@example.org</a>' in html
