"""survey.study_file: a study's settings and texts read from TOML and written back."""

import tomllib

import pytest

from survey import study_file
from survey.services import TEXT_FIELDS, BadStudyInput
from survey.study_file import KEYS, StudyFileError
from survey.testing import make_study


def _write(tmp_path, text):
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_study_file_gives_create_studys_arguments_by_their_names(tmp_path):
    path = _write(
        tmp_path,
        """
explanation_set = "paper"
slug = "my-study"
methods = ["normlime", "lime", "ig"]
real_questions = 30
status = "draft"
[platforms]
mturk = false
prolific_code = "C1A2"
[texts]
researcher = "Dr Ada"
duration_minutes = 12
""",
    )
    spec = study_file.read(path)
    assert spec.explanation_set == "paper"
    assert spec.arguments == {
        "slug": "my-study",
        "methods": ("normlime", "lime", "ig"),
        "n_real_questions": 30,
        "status": "draft",
        "accept_mturk": False,
        "prolific_completion_code": "C1A2",
        "accept_prolific": True,
        "researcher": "Dr Ada",
        "duration_minutes": 12,
    }


@pytest.mark.parametrize(
    "text, problem",
    [
        ('slugg = "x"', "slugg: unknown key"),
        ("[platforms]\nprolifc_code = 'X'", "platforms.prolifc_code: unknown key (known here: mturk, direct,"),
        ('real_questions = "30"', "real_questions: expected an integer, got '30'"),
        ("seed = true", "seed: expected an integer, got True"),
        ("[platforms]\nmturk = 1", "platforms.mturk: expected true or false, got 1"),
        ('methods = "normlime,lime"', "methods: expected a list of strings"),
        ('methods = ["normlime", "nope"]', "methods: unknown method(s) nope"),
        ('status = "running"', "status: 'running': use draft, open, closed"),
        ("[texts]\ncontact_email = 'not-an-address'", "texts.contact_email: Enter a valid email address."),
        ("[texts]\nquestion_prompt = 'a {lable}'", "texts.question_prompt: "),
        ("[texts]\nduration_minutes = 0", "texts.duration_minutes: "),
        ('platforms = "all"', "platforms: expected a table"),
        ("slug = ", "not valid TOML: "),
    ],
)
def test_a_wrong_key_or_value_is_one_line_naming_the_key(tmp_path, text, problem):
    path = _write(tmp_path, text)
    with pytest.raises(StudyFileError) as caught:
        study_file.read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(StudyFileError, match=r"nope.toml: no such file"):
        study_file.read(tmp_path / "nope.toml")


def test_the_services_refusals_are_named_by_the_files_keys():
    assert study_file.message(BadStudyInput("25 real questions: ...", "n_real_questions")) == (
        "real_questions: 25 real questions: ..."
    )
    assert study_file.message(BadStudyInput("contact_email: Enter a valid email address.", "contact_email")) == (
        "texts.contact_email: Enter a valid email address."
    )
    assert study_file.message(BadStudyInput("no field")) == "no field"


def test_every_text_of_a_study_has_a_key_in_the_texts_table():
    assert [key.name for key in KEYS if key.section == "texts"] == list(TEXT_FIELDS)
    assert next(key for key in KEYS if key.name == "duration_minutes").type is int


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'quotes " and """ and \'\'\' and a trailing quote"',
        "back\\slash and \\n and \\u0041 and a trailing backslash\\",
        "tab\tand\rcarriage return and \x00\x01\x1f\x7f controls",
        "two\nlines\n\nand a paragraph\n",
        '\nstarts with a newline and ends with quotes\n"""',
        "£1.50, é, 数字, 🙂 (astral)",
        "",
    ],
)
def test_any_text_is_written_as_toml_that_reads_back_the_same(text):
    written = f"value = {study_file.toml_value(text)}\n"
    assert tomllib.loads(written)["value"] == text


def test_integers_booleans_and_lists_are_written_as_toml():
    written = "\n".join(f"k{i} = {study_file.toml_value(v)}" for i, v in enumerate([30, True, False, ("a", 'b"')]))
    assert tomllib.loads(written) == {"k0": 30, "k1": True, "k2": False, "k3": ["a", 'b"']}


@pytest.mark.django_db
def test_a_written_study_reads_back_as_the_arguments_that_built_it(explanation_set):
    study = make_study(
        explanation_set,
        slug="round",
        methods=("lime", "normlime", "smoothgrad"),
        n_real_questions=30,
        n_attention_checks=4,
        pass_threshold=3,
        seed=1234,
        status="draft",
        accept_mturk=False,
        accept_prolific=True,
        prolific_completion_code="C0DE",
        prolific_failed_code="F41L",
        researcher='Dr "Q" \\ Lovelace',
        contact_email="ada@example.org",
        question_prompt="Which of the {options}?\n\nA second paragraph.",
    )
    spec = study_file.parse(tomllib.loads(study_file.dumps(study)))
    assert spec.explanation_set == explanation_set.name
    expected = study_file.arguments_of(study) | {"accept_prolific": True}
    assert spec.arguments == expected
    assert spec.arguments["seed"] == 1234 and spec.arguments["methods"] == ("lime", "normlime", "smoothgrad")
    assert spec.arguments["question_prompt"] == "Which of the {options}?\n\nA second paragraph."
    assert spec.arguments["consent_text"] == study.consent_text


@pytest.mark.django_db
def test_a_study_without_prolific_is_written_without_its_codes(explanation_set):
    study = make_study(explanation_set, slug="noprolific")
    spec = study_file.parse(tomllib.loads(study_file.dumps(study)))
    assert spec.arguments["prolific_completion_code"] == "" and spec.arguments["accept_prolific"] is False


def test_the_tutorials_example_file_is_a_valid_study_file(settings):
    spec = study_file.read(settings.BASE_DIR / "docs" / "examples" / "study.toml")
    assert spec.explanation_set == "paper" and spec.arguments["methods"] == ("normlime", "lime", "ig")
    assert spec.arguments["n_real_questions"] == 30 and spec.arguments["accept_prolific"] is True
