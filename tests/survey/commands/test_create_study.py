"""create_study: a study from an explanation set, its participant URL printed."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from survey import attention
from survey.models import Item, Study
from survey.testing import fake_pictures

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_digits(monkeypatch):
    monkeypatch.setattr(attention, "digit_pictures", lambda mnist_dir=None: fake_pictures())


def _run(*args):
    out = io.StringIO()
    call_command("create_study", *args, stdout=out)
    return out.getvalue()


def test_it_creates_an_open_study_and_prints_its_url(explanation_set, fake_digits):
    out = _run(explanation_set.name, "--slug", "pilot", "--base-url", "https://study.example.org")
    study = Study.objects.get(slug="pilot")
    assert study.is_open and study.explanation_set == explanation_set
    assert "Participant URL: https://study.example.org/s/pilot/" in out
    assert "20 questions and 5 attention checks" in out


def test_the_slug_defaults_to_the_explanation_sets_name(explanation_set, fake_digits):
    _run(explanation_set.name)
    assert Study.objects.get().slug == explanation_set.name


def test_draft_and_platform_options_are_stored(explanation_set, fake_digits):
    _run(explanation_set.name, "--draft", "--no-direct", "--prolific-code", "C0DE", "--prolific-failed-code", "F41L")
    study = Study.objects.get()
    assert study.status == "draft" and not study.accept_direct and study.accept_mturk
    assert (study.accept_prolific, study.prolific_completion_code, study.prolific_failed_code) == (True, "C0DE", "F41L")


def test_the_attention_checks_come_from_real_mnist_digits_by_default(explanation_set):
    _run(explanation_set.name, "--seed", "3")
    checks = Item.objects.filter(kind="attention")
    assert checks.count() == 5
    image = checks.first().options.get(is_correct=True).image
    assert image.description.startswith("typical handwritten")


@pytest.mark.parametrize(
    "args, problem",
    [
        (["nope"], "no explanation set 'nope'"),
        (["{set}", "--real-questions", "25"], "multiple of 20"),
        (["{set}", "--attention-checks", "3"], "pass threshold 4"),
        (["{set}", "--prolific-failed-code", "X"], "a Prolific failed code needs a Prolific completion code"),
        (["{set}", "--base-url", "study.example.org"], "scheme and host"),
        (["{set}", "--mnist-dir", "/no/such/dir"], "not a directory"),
    ],
)
def test_bad_input_is_a_one_line_error(explanation_set, args, problem):
    args = [a.replace("{set}", explanation_set.name) for a in args]
    with pytest.raises(CommandError, match=problem):
        _run(*args)
    assert not Study.objects.exists()


def test_a_taken_slug_is_a_one_line_error(explanation_set, fake_digits):
    _run(explanation_set.name, "--slug", "x")
    with pytest.raises(CommandError, match="already exists"):
        _run(explanation_set.name, "--slug", "x")


def test_the_demo_command_creates_the_demo_study_once_and_prints_its_url(explanation_set, fake_digits, settings):
    settings.SURVEY_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    out = io.StringIO()
    call_command("create_demo_study", stdout=out)
    call_command("create_demo_study", explanation_set.name, stdout=out)
    assert Study.objects.get().slug == "demo"
    assert out.getvalue().count("Take it at http://127.0.0.1:8000/s/demo/") == 2


def test_the_demo_command_without_explanations_is_a_one_line_error(db):
    with pytest.raises(CommandError, match="run generate_explanations first"):
        call_command("create_demo_study")


def test_it_creates_a_study_of_the_methods_named_with_enough_questions_to_balance_them(db, fake_digits):
    from survey.testing import make_explanation_set

    explanation_set = make_explanation_set("three", ("normlime", "lime", "vargrad"))
    out = _run(explanation_set.name, "--methods", "normlime, lime,vargrad")
    study = Study.objects.get(slug="three")
    assert study.methods == ["normlime", "lime", "vargrad"] and study.n_real_questions == 30
    assert "30 questions and 5 attention checks from three, comparing 3 methods (normlime, lime, vargrad)" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (("--methods", "normlime"), "1 methods (normlime): a study compares 2 to 6"),
        (("--methods", "normlime,lime,smoothgrad"), "lacks the maps smoothgrad 0"),
        (
            ("--methods", "normlime,lime,vargrad", "--real-questions", "20"),
            "20 real questions: with 3 methods use a multiple of 30",
        ),
    ],
)
def test_it_refuses_methods_it_cannot_show_in_one_line(db, fake_digits, args, message):
    from survey.testing import make_explanation_set

    explanation_set = make_explanation_set("three", ("normlime", "lime", "vargrad"))
    with pytest.raises(CommandError, match=re.escape(message)):
        _run(explanation_set.name, *args)
    assert not Study.objects.exists()


STUDY_FILE = """
explanation_set = "{set}"
name = "My study"
slug = "my-study"
methods = ["normlime", "lime"]
real_questions = 10
seed = 77
status = "draft"

[platforms]
mturk = false
prolific_code = "C1A2"

[texts]
researcher = "Dr Ada Lovelace"
contact_email = "ada@example.org"
question_prompt = "Which picture shows a {label}?"
"""


def _study_file(tmp_path, explanation_set, text=STUDY_FILE):
    path = tmp_path / "study.toml"
    path.write_text(text.replace("{set}", explanation_set.name), encoding="utf-8")
    return path


def test_a_study_file_creates_the_study_it_describes(explanation_set, fake_digits, tmp_path):
    out = _run("--config", str(_study_file(tmp_path, explanation_set)))
    study = Study.objects.get(slug="my-study")
    assert (study.name, study.methods, study.n_real_questions, study.seed) == ("My study", ["normlime", "lime"], 10, 77)
    assert study.status == "draft" and not study.accept_mturk and study.accept_direct
    assert (study.accept_prolific, study.prolific_completion_code) == (True, "C1A2")
    assert (study.researcher, study.contact_email) == ("Dr Ada Lovelace", "ada@example.org")
    assert study.question_prompt == "Which picture shows a {label}?"
    assert "Created study my-study (draft)" in out


def test_flags_on_the_command_line_win_over_the_study_file(explanation_set, fake_digits, tmp_path):
    _run("--config", str(_study_file(tmp_path, explanation_set)), "--slug", "other", "--seed", "5")
    study = Study.objects.get()
    assert (study.slug, study.seed, study.name) == ("other", 5, "My study")


def test_a_wrong_value_in_a_study_file_names_the_file_and_the_key_and_writes_nothing(
    explanation_set, fake_digits, tmp_path
):
    path = _study_file(tmp_path, explanation_set, STUDY_FILE.replace("real_questions = 10", "real_questions = 15"))
    with pytest.raises(CommandError) as caught:
        _run("--config", str(path))
    assert str(caught.value).startswith(
        f"{path}: real_questions: 15 real questions: with 2 methods use a multiple of 10"
    )
    assert not Study.objects.exists()


def test_a_misspelt_key_in_a_study_file_is_refused_before_anything_is_built(explanation_set, tmp_path):
    path = _study_file(tmp_path, explanation_set, STUDY_FILE.replace("researcher =", "reseacher ="))
    with pytest.raises(CommandError, match=r"study.toml: texts.reseacher: unknown key \(known here: researcher,"):
        _run("--config", str(path))
    assert not Study.objects.exists()


def test_a_study_file_without_an_explanation_set_needs_one_on_the_command_line(explanation_set, fake_digits, tmp_path):
    path = _study_file(tmp_path, explanation_set, STUDY_FILE.replace('explanation_set = "{set}"', ""))
    with pytest.raises(CommandError, match="name the explanation set"):
        _run("--config", str(path))
    _run(explanation_set.name, "--config", str(path))
    assert Study.objects.get().explanation_set == explanation_set
