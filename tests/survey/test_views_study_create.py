"""The create page: staff only, the sets and methods offered, a study through services.create_study, its refusals as form errors."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from explainers.methods import registry
from survey import attention, services
from survey.models import Item, ItemOption, Study, StudyImage
from survey.testing import fake_pictures, make_explanation_set

pytestmark = pytest.mark.django_db

URL = "/research/studies/new/"


@pytest.fixture(autouse=True)
def fake_digits(monkeypatch):
    monkeypatch.setattr(attention, "digit_pictures", lambda mnist_dir=None: fake_pictures())


def form(explanation_set, **changes) -> dict:
    """A filled-in create form as a browser sends it (unticked checkboxes and blank texts are left out)."""
    data = {
        "explanation_set": explanation_set.name,
        "name": "Pick the best map",
        "slug": "web",
        "methods": list(registry.names(paper=True)),
        "n_real_questions": "",
        "n_attention_checks": "5",
        "pass_threshold": "4",
        "seed": "7",
        "status": "draft",
        "accept_mturk": "on",
        "accept_direct": "on",
    }
    return data | changes


def test_the_page_is_research_studies_new():
    assert reverse("survey:study_create") == URL


def test_anonymous_visitors_are_sent_to_the_login(client, explanation_set):
    response = client.post(URL, form(explanation_set))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Study.objects.exists()


def test_a_logged_in_user_who_is_not_staff_is_sent_to_the_login(client, explanation_set):
    client.force_login(User.objects.create_user("plain", password="x"))
    assert client.post(URL, form(explanation_set)).status_code == 302
    assert not Study.objects.exists()


def test_the_form_offers_every_explanation_set_and_method_with_the_papers_four_ticked(staff_client, explanation_set):
    make_explanation_set("other-set")
    html = staff_client.get(URL).content.decode()
    assert '<option value="test-set">test-set</option>' in html and '<option value="other-set">' in html
    ticked = [name for i, name in enumerate(registry.names()) if f'value="{name}" id="id_methods_{i}" checked>' in html]
    offered = [name for i, name in enumerate(registry.names()) if f'value="{name}" id="id_methods_{i}"' in html]
    assert ticked == ["normlime", "lime", "smoothgrad", "vargrad"] and offered == list(registry.names())
    assert "NormLIME (normlime)</label>" in html


def test_the_form_states_the_rule_and_the_valid_numbers_of_real_questions(staff_client, explanation_set):
    html = staff_client.get(URL).content.decode()
    assert "A multiple of lcm(10, k) for k methods, at most 190" in html
    assert "4 methods: 20, 40, 60, … 180 (blank: 20)" in html and "3 methods: 30, 60, 90, … 180 (blank: 30)" in html


def test_the_form_has_every_text_blank_and_the_defaults_of_create_study(staff_client, explanation_set):
    html = staff_client.get(URL).content.decode()
    for name in services.TEXT_FIELDS:
        assert f'name="{name}"' in html
    assert '<textarea name="consent_text" cols="40" rows="10" id="id_consent_text">\n</textarea>' in html
    assert f'value="{services.DEFAULT_STUDY_NAME}"' in html
    assert 'name="status" value="draft" required id="id_status_0" checked' in html
    assert 'name="accept_mturk" id="id_accept_mturk" checked' in html


def test_a_valid_post_creates_the_study_the_service_would_and_shows_its_monitor(staff_client, explanation_set):
    data = form(
        explanation_set,
        methods=["normlime", "lime", "smoothgrad", "vargrad"],
        n_real_questions="40",
        n_attention_checks="6",
        pass_threshold="5",
        accept_mturk="",
        prolific_completion_code="C0DE",
        prolific_failed_code="F41L",
        researcher="Dr Ada Lovelace",
        question_prompt="Which shows {label} best?",
    )
    data.pop("accept_mturk")
    response = staff_client.post(URL, data)
    assert response.status_code == 302 and response["Location"] == reverse("survey:monitor", args=["web"])
    made = Study.objects.get(slug="web")
    expected = services.create_study(
        explanation_set,
        "Pick the best map",
        "by-service",
        methods=["normlime", "lime", "smoothgrad", "vargrad"],
        n_real_questions=40,
        n_attention_checks=6,
        pass_threshold=5,
        seed=7,
        pictures=fake_pictures(),
        accept_mturk=False,
        accept_direct=True,
        accept_prolific=True,
        prolific_completion_code="C0DE",
        prolific_failed_code="F41L",
        researcher="Dr Ada Lovelace",
        question_prompt="Which shows {label} best?",
    )
    compared = ["name", "methods", "n_real_questions", "n_attention_checks", "pass_threshold", "status", "seed"]
    compared += ["accept_mturk", "accept_direct", "accept_prolific", "prolific_completion_code", "prolific_failed_code"]
    compared += list(services.TEXT_FIELDS)
    assert {f: getattr(made, f) for f in compared} == {f: getattr(expected, f) for f in compared}
    assert (made.status, made.accept_mturk, made.accept_prolific, made.duration_minutes) == ("draft", False, True, 20)
    assert "46 sets of four images" in made.consent_text

    def items(study):
        rows = Item.objects.filter(study=study).order_by("number")
        return [(i.number, i.kind, i.digit, [o.method for o in i.options.order_by("slot")]) for i in rows]

    assert items(made) == items(expected) and len(items(made)) == 46
    assert StudyImage.objects.filter(study=made).count() == StudyImage.objects.filter(study=expected).count()
    page = staff_client.get(response["Location"]).content.decode()
    assert "Created study web (draft): 40 questions and 6 attention checks, comparing 4 methods" in page


def test_blank_optional_values_take_create_studys_defaults(staff_client, explanation_set):
    staff_client.post(URL, form(explanation_set, seed="", status="open"))
    study = Study.objects.get()
    assert (study.n_real_questions, study.status, study.accept_prolific) == (20, "open", False)
    assert study.consent_text.startswith(services.studies.default_consent(25, 4)[:80])
    assert study.duration_minutes == 10 and 0 <= study.seed < 2**31


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"n_real_questions": "25"}, "25 real questions: with 4 methods use a multiple of 20"),
        ({"methods": ["normlime"]}, "1 methods (normlime): a study compares 2 to 6"),
        ({"methods": []}, "0 methods (none): a study compares 2 to 6"),
        ({"methods": ["normlime", "ig"]}, "explanation set test-set lacks the maps ig 0"),
        ({"n_attention_checks": "3"}, "pass threshold 4: use 0 to 3"),
        ({"prolific_failed_code": "F41L"}, "a Prolific failed code needs a Prolific completion code"),
        ({"slug": "new"}, "slug 'new' is the name of a research page"),
        ({"question_prompt": "The {digit}?"}, "question_prompt: "),
    ],
)
def test_a_post_the_service_refuses_shows_its_words_and_writes_nothing(staff_client, explanation_set, changes, words):
    data = form(explanation_set, **changes)
    response = staff_client.post(URL, data)
    html = response.content.decode()
    with pytest.raises(services.BadStudyInput) as refused:
        services.create_study(**_service_arguments(explanation_set, data))
    assert refused.value.message.startswith(words)
    assert response.status_code == 200 and f'id="create-errors">{_escaped(refused.value.message)}</div>' in html
    assert not Study.objects.exists() and not Item.objects.exists() and not ItemOption.objects.exists()


def test_a_taken_slug_is_refused_in_the_services_words(staff_client, explanation_set, study):
    html = staff_client.post(URL, form(explanation_set, slug=study.slug)).content.decode()
    assert "a study with slug &#x27;s1&#x27; already exists" in html and Study.objects.count() == 1


def test_values_of_the_wrong_kind_are_field_errors(staff_client, explanation_set):
    response = staff_client.post(URL, form(explanation_set, slug="not a slug", n_real_questions="twenty"))
    html = response.content.decode()
    assert response.status_code == 200 and "Enter a whole number." in html and "consisting of letters" in html
    assert not Study.objects.exists()


def _escaped(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def _service_arguments(explanation_set, data: dict) -> dict:
    """What the command would pass create_study for the same values (the words to expect)."""
    texts = {name: data[name] for name in services.TEXT_FIELDS if data.get(name)}
    return {
        "explanation_set": explanation_set,
        "name": data["name"],
        "slug": data["slug"],
        "methods": data["methods"],
        "n_real_questions": int(data["n_real_questions"]) if data["n_real_questions"] else None,
        "n_attention_checks": int(data["n_attention_checks"]),
        "pass_threshold": int(data["pass_threshold"]),
        "seed": int(data["seed"]),
        "pictures": fake_pictures(),
        "prolific_completion_code": data.get("prolific_completion_code", ""),
        "prolific_failed_code": data.get("prolific_failed_code", ""),
        **texts,
    }
