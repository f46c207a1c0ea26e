"""survey.services.studies: building a study (its methods, counts, items and images), the demo study,
a study's status, and replacing an attention check."""

from collections import Counter

import pytest

from explainers.models import ClassMap
from survey import services
from survey.models import Item, Study, StudyImage
from survey.testing import fake_pictures, make_explanation_set, make_study, mturk_params
from tests.survey.services.common import SIX

pytestmark = pytest.mark.django_db


# --- building a study -----------------------------------------------------------------------------


def test_a_study_has_every_digit_twice_each_with_the_four_methods(study):
    real = Item.objects.filter(study=study, kind="real")
    assert Counter(real.values_list("digit", flat=True)) == {d: 2 for d in range(10)}
    for item in real:
        assert sorted(item.options.values_list("method", flat=True)) == sorted(study.methods)


def test_a_study_has_five_attention_checks_with_one_correct_picture_of_the_asked_digit(study):
    checks = Item.objects.filter(study=study, kind="attention")
    assert checks.count() == 5
    assert len(set(checks.values_list("digit", flat=True))) == 5
    for check in checks:
        options = list(check.options.select_related("image"))
        correct = [o for o in options if o.is_correct]
        assert len(correct) == 1 and correct[0].image.digit == check.digit
        distractors = [o.image for o in options if not o.is_correct]
        assert all(image.digit != check.digit for image in distractors)
        assert len({image.pk for image in distractors}) == 2  # two of the three are the same picture


def test_a_study_copies_the_maps_so_regenerating_the_set_changes_nothing_shown(study, explanation_set):
    image = StudyImage.objects.get(study=study, role="map", method="lime", digit=3)
    original = bytes(image.png)
    ClassMap.objects.filter(explanation_set=explanation_set).delete()
    image.refresh_from_db()
    assert bytes(image.png) == original and image.class_map is None


def test_a_study_has_the_instructions_example(study):
    assert StudyImage.objects.filter(study=study, role="example", digit=4).count() == 1


def test_a_study_needs_all_forty_maps(explanation_set):
    ClassMap.objects.filter(explanation_set=explanation_set, method="vargrad", digit=7).delete()
    with pytest.raises(services.BadStudyInput, match="vargrad 7"):
        make_study(explanation_set)
    assert not Study.objects.exists()


@pytest.mark.parametrize(
    "counts, problem",
    [
        ({"n_real_questions": 30}, "multiple of 20"),
        ({"n_attention_checks": 11}, "0 to 10"),
        ({"pass_threshold": 6}, "pass threshold"),
        ({"prolific_failed_code": "F41L"}, "a Prolific failed code needs a Prolific completion code"),
        ({"slug": "new"}, "slug 'new' is the name of a research page"),
    ],
)
def test_impossible_question_counts_platforms_and_slugs_are_refused(explanation_set, counts, problem):
    with pytest.raises(services.BadStudyInput, match=problem):
        make_study(explanation_set, **counts)


def test_a_slug_is_used_once(study, explanation_set):
    with pytest.raises(services.BadStudyInput, match="already exists"):
        make_study(explanation_set, slug=study.slug)


def test_forty_real_questions_show_every_digit_four_times(explanation_set):
    study = make_study(explanation_set, slug="long", n_real_questions=40)
    assert Counter(Item.objects.filter(study=study, kind="real").values_list("digit", flat=True)) == {
        d: 4 for d in range(10)
    }


def test_the_demo_study_is_created_once_and_open(explanation_set):
    first = services.create_demo_study(explanation_set, pictures=fake_pictures())
    again = services.create_demo_study(explanation_set, pictures=fake_pictures())
    assert first.pk == again.pk and first.slug == "demo" and first.is_open
    assert Study.objects.count() == 1


def test_the_demo_study_stays_with_its_first_explanation_set(explanation_set):
    first = services.create_demo_study(explanation_set, pictures=fake_pictures())
    other = make_explanation_set("other-set")
    assert services.create_demo_study(other, pictures=fake_pictures()).pk == first.pk


def test_a_study_status_can_change(study):
    assert services.set_study_status(study, "closed").status == "closed"
    with pytest.raises(services.BadStudyInput):
        services.set_study_status(study, "paused")


# --- attention checks replaced by the researcher --------------------------------------------------


def _png(shade: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (28, 28), color=shade).save(buf, format="PNG")
    return buf.getvalue()


def test_a_researcher_can_replace_an_attention_check(study):
    item = services.replace_attention_check(study, 21, 7, _png(255), [_png(100), _png(100), _png(50)])
    options = list(item.options.select_related("image").order_by("slot"))
    assert item.digit == 7 and [o.is_correct for o in options] == [True, False, False, False]
    assert options[0].image.digit == 7
    # the pictures it replaced are gone (nobody can have seen them)
    assert StudyImage.objects.filter(study=study, role="check", options__isnull=True).count() == 0


def test_replacing_a_check_is_refused_once_anyone_started(study):
    services.start_participant(study, mturk_params())
    with pytest.raises(services.StudyLocked):
        services.replace_attention_check(study, 21, 7, _png(255), [_png(1)] * 3)


def test_replacing_needs_an_attention_check_and_three_readable_distractors(study):
    with pytest.raises(services.BadStudyInput, match="no attention check number 3"):
        services.replace_attention_check(study, 3, 7, _png(255), [_png(9)] * 3)
    with pytest.raises(services.BadStudyInput, match="3 distractor"):
        services.replace_attention_check(study, 21, 7, _png(255), [_png(9)] * 2)
    with pytest.raises(services.BadStudyInput, match="picture"):
        services.replace_attention_check(study, 21, 7, b"junk", [_png(9)] * 3)


# --- studies of k methods -------------------------------------------------------------------------


def test_the_number_of_real_questions_is_a_multiple_of_lcm_10_k_and_defaults_to_the_smallest_from_20():
    assert {k: services.real_question_block(k) for k in range(2, 7)} == {2: 10, 3: 30, 4: 20, 5: 10, 6: 30}
    assert {k: services.default_real_questions(k) for k in range(2, 7)} == {2: 20, 3: 30, 4: 20, 5: 20, 6: 30}
    assert list(services.valid_real_questions(4)) == list(range(20, 181, 20))  # 180: 200 questions less 10 checks
    assert services.valid_real_questions(3)[-1] == 180 and services.valid_real_questions(5)[-1] == 190


def test_a_study_of_the_papers_four_is_built_as_before(study):
    assert study.methods == ["normlime", "lime", "smoothgrad", "vargrad"] and study.n_options == 4
    assert (study.n_real_questions, study.n_questions) == (20, 25)
    assert "25 sets of four images" in study.consent_text and "about 10 minutes" in study.consent_text


@pytest.mark.parametrize("methods, digits_shown", [(SIX[:2], 2), (SIX[:3], 3), (SIX, 3)])
def test_a_study_of_k_methods_shows_one_map_per_method_in_its_order(six_set, methods, digits_shown):
    study = make_study(six_set, methods=methods)
    k = len(methods)
    assert study.methods == list(methods) and study.n_real_questions == services.default_real_questions(k)
    real = Item.objects.filter(study=study, kind="real")
    assert Counter(real.values_list("digit", flat=True)) == {d: digits_shown for d in range(10)}
    for item in real:
        assert list(item.options.order_by("slot").values_list("method", flat=True)) == list(methods)
    for check in Item.objects.filter(study=study, kind="attention"):
        options = list(check.options.order_by("slot"))
        assert len(options) == k and [o.is_correct for o in options] == [True] + [False] * (k - 1)
    assert f"{study.n_questions} sets of {study.n_options_in_words} images" in study.consent_text


@pytest.mark.parametrize(
    "methods, message",
    [
        (("normlime",), "1 methods (normlime): a study compares 2 to 6"),
        (SIX + ("normlime",), "7 methods"),
        (("normlime", "lime", "normlime"), "method(s) normlime named twice"),
        (("normlime", "gradcam"), "unknown method(s) gradcam (known: "),
        (("normlime", "ig"), "explanation set six lacks the maps ig 0, ig 1, ig 2, ig 3, ig 4 (and 5 more)"),
    ],
)
def test_a_study_of_unusable_methods_is_refused_in_one_line(six_set, methods, message):
    with pytest.raises(services.BadStudyInput) as refused:
        make_study(six_set, methods=methods)
    assert message in refused.value.message and "\n" not in refused.value.message
    assert not Study.objects.exists()


@pytest.mark.parametrize("k, n_real, block", [(3, 20, 30), (6, 20, 30), (4, 30, 20), (2, 15, 10)])
def test_a_number_of_questions_that_cannot_balance_k_methods_is_refused(six_set, k, n_real, block):
    with pytest.raises(
        services.BadStudyInput, match=f"{n_real} real questions: with {k} methods use a multiple of {block}"
    ):
        make_study(six_set, methods=SIX[:k], n_real_questions=n_real)
    assert not Study.objects.exists()


def test_a_study_of_two_methods_takes_ten_real_questions(six_set):
    study = make_study(six_set, methods=SIX[:2], n_real_questions=10)
    assert Item.objects.filter(study=study, kind="real").count() == 10


@pytest.mark.parametrize("k", [2, 6])
def test_replacing_an_attention_check_of_k_methods_takes_k_minus_1_distractors(six_set, k):
    study = make_study(six_set, methods=SIX[:k])
    number = study.n_real_questions + 1
    with pytest.raises(services.BadStudyInput, match=f"give {k - 1} distractor pictures, not 3"):
        services.replace_attention_check(study, number, 7, _png(255), [_png(9)] * 3)
    item = services.replace_attention_check(study, number, 7, _png(255), [_png(9)] * (k - 1))
    assert [o.is_correct for o in item.options.order_by("slot")] == [True] + [False] * (k - 1)


@pytest.mark.django_db
def test_check_texts_names_the_field_that_is_wrong():
    with pytest.raises(services.BadStudyInput, match=r"^contact_email: Enter a valid email address\.$"):
        services.check_texts({"contact_email": "not an address"})
    with pytest.raises(services.BadStudyInput, match=r"^question_prompt: unknown placeholder \{digit\}"):
        services.check_texts({"question_prompt": "the number {digit}"})
    with pytest.raises(services.BadStudyInput, match=r"^colour: not a study text"):
        services.check_texts({"colour": "red"})


def test_a_study_gets_its_texts_checked_and_its_duration_from_its_length(explanation_set):
    study = make_study(explanation_set, slug="texts", researcher="Dr A. Lovelace", contact_email="ada@example.org")
    assert (study.researcher, study.contact_email, study.duration_minutes) == ("Dr A. Lovelace", "ada@example.org", 10)
    with pytest.raises(services.BadStudyInput, match="^payment: "):
        make_study(explanation_set, slug="bad", payment="x" * 101)
    assert not Study.objects.filter(slug="bad").exists()


def test_texts_can_change_until_a_real_participant_starts(study):
    services.update_texts(study, researcher="Dr B", question_prompt="Which shows {label} best?")
    study.refresh_from_db()
    assert (study.researcher, study.question_prompt) == ("Dr B", "Which shows {label} best?")
    services.start_participant(study, mturk_params())
    with pytest.raises(services.StudyLocked, match="real participants"):
        services.update_texts(study, researcher="Dr C")
    study.refresh_from_db()
    assert study.researcher == "Dr B"


# --- a study of another data set (three named RGB classes of 12 x 16) ------------------------------


@pytest.fixture
def rgb_set(db):
    from survey.testing import OTHER_CLASSES, OTHER_SHAPE

    return make_explanation_set("rgb", classes=OTHER_CLASSES, shape=OTHER_SHAPE)


@pytest.mark.parametrize(
    "k, n_classes, block",
    [(4, 10, 20), (3, 10, 30), (5, 10, 10), (4, 3, 12), (3, 3, 6), (2, 3, 6), (5, 2, 10), (6, 7, 42)],
)
def test_the_real_questions_are_a_multiple_of_lcm_of_the_classes_and_the_latin_squares_rows(k, n_classes, block):
    # Rows of the Williams square: k for even k, 2k for odd k; lcm(3, 6) = 6, not lcm(3, 3) = 3.
    assert services.real_question_block(k, n_classes) == block


def test_a_study_of_three_classes_asks_about_each_equally_often_and_names_its_checks_by_class(rgb_set):
    study = make_study(rgb_set)
    assert (study.n_real_questions, study.classes, study.noun) == (24, ["cat", "dog", "owl"], "class")
    real = Item.objects.filter(study=study, kind="real")
    assert Counter(real.values_list("digit", flat=True)) == {0: 8, 1: 8, 2: 8}
    checks = Item.objects.filter(study=study, kind="attention")
    # five checks of three classes: each asked about once, then two of them again
    assert sorted(Counter(checks.values_list("digit", flat=True)).values()) == [1, 2, 2]
    example = StudyImage.objects.get(study=study, role="example")
    assert example.digit == 2 and "owl" in study.instructions_text
    assert study.question_prompt.endswith("distinguish {label} from the other {others} classes.")
    assert study.text_values(1)["label"] == "dog" and study.text_values()["others"] == "two"


def test_a_number_of_real_questions_that_does_not_fit_three_classes_is_refused_naming_the_block(rgb_set):
    with pytest.raises(
        services.BadStudyInput, match="20 real questions: with 4 methods and 3 classes use a multiple of 12"
    ):
        make_study(rgb_set, n_real_questions=20)


def test_pictures_of_another_shape_than_the_sets_are_refused_in_one_line(rgb_set):
    with pytest.raises(services.BadStudyInput, match=r"pictures of shape \(10, 784\).*needs 3 x 576"):
        make_study(rgb_set, pictures=fake_pictures())
    assert not Study.objects.exists()


def test_an_attention_check_of_another_set_is_replaced_with_pictures_of_its_size_and_a_class_in_range(rgb_set):
    import io

    from PIL import Image

    from survey import attention

    study = make_study(rgb_set, status=Study.Status.DRAFT)
    check = Item.objects.filter(study=study, kind="attention").first()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color=(0, 200, 0)).save(buf, format="PNG")
    with pytest.raises(services.BadStudyInput, match="class 3: use 0 to 2"):
        services.replace_attention_check(study, check.number, 3, buf.getvalue(), [buf.getvalue()] * 3)
    item = services.replace_attention_check(study, check.number, 2, buf.getvalue(), [buf.getvalue()] * 3)
    png = bytes(item.options.get(is_correct=True).image.png)
    assert attention.png_size(png) == attention.png_size(bytes(rgb_set.maps.first().png)) == (288, 216)
    assert Image.open(io.BytesIO(png)).convert("RGB").getpixel((10, 10)) == (0, 200, 0)
