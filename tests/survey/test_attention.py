"""survey.attention: attention checks and the instructions' example built from digit images (no database)."""

import io
import random

import numpy as np
import pytest
from PIL import Image

from survey import attention


def test_the_typical_digit_is_the_image_closest_to_its_class_mean():
    images = np.array(
        [[0.0, 0.0], [1.0, 1.0], [0.4, 0.6], [5.0, 5.0]] + [[d, d] for d in range(2, 10)] * 1, dtype=np.float32
    )
    labels = np.array([0, 0, 0, 1] + list(range(2, 10)))
    typical = attention.typical_digits(images, labels)
    assert typical[0].tolist() == pytest.approx([0.4, 0.6])  # mean (0.47, 0.53)
    assert typical[1].tolist() == [5.0, 5.0]


def test_a_digit_missing_from_the_data_is_reported():
    with pytest.raises(ValueError, match="digit 9"):
        attention.typical_digits(np.zeros((9, 4)), np.arange(9))


def test_checks_ask_about_distinct_digits_with_two_identical_distractors_of_another_digit():
    plans = attention.plan_checks(5, random.Random(0))
    assert len({p.digit for p in plans}) == 5
    for plan in plans:
        twin, twin_again, other = plan.distractors
        assert twin == twin_again and len({plan.digit, twin, other}) == 3


@pytest.mark.parametrize("n_options", [2, 3, 4, 5, 6])
def test_a_check_has_one_distractor_fewer_than_the_options_and_never_the_asked_digit(n_options):
    for plan in attention.plan_checks(10, random.Random(n_options), n_options):
        assert len(plan.distractors) == n_options - 1 and plan.digit not in plan.distractors
        # two or more distractors: the first two are the twins, the rest distinct other digits
        if n_options >= 3:
            assert plan.distractors[0] == plan.distractors[1]
            assert len(set(plan.distractors)) == n_options - 2


def test_four_options_draw_the_checks_they_always_drew():
    """Seeds of existing studies still build the same checks: the draws are the ones made before k was a choice."""
    rng = random.Random(0)
    digits = rng.sample(range(10), 1)
    twin, other = rng.sample([d for d in range(10) if d != digits[0]], 2)
    [plan] = attention.plan_checks(1, random.Random(0))
    assert plan == attention.CheckPlan(digit=digits[0], distractors=(twin, twin, other))


def test_the_same_seed_plans_the_same_checks():
    assert attention.plan_checks(5, random.Random(4)) == attention.plan_checks(5, random.Random(4))


def test_more_than_ten_checks_are_refused():
    with pytest.raises(ValueError):
        attention.plan_checks(11, random.Random(0))


def test_check_pictures_and_the_example_are_280_pixel_pngs_like_the_maps(pictures):
    typical, means = pictures
    for png in (attention.digit_png(typical[3]), attention.example_png(typical, means)):
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.size == (280, 280)


def test_the_example_draws_a_blue_oval(pictures):
    typical, means = pictures
    pixels = np.asarray(Image.open(io.BytesIO(attention.example_png(typical, means))).convert("RGB"))
    blue = (pixels[:, :, 2] > 200) & (pixels[:, :, 0] < 100)
    assert blue.sum() > 200


def test_an_uploaded_picture_becomes_784_grey_values():
    buf = io.BytesIO()
    Image.new("L", (56, 56), color=255).save(buf, format="PNG")
    values = attention.picture_values(buf.getvalue())
    assert values.shape == (784,) and values.max() == pytest.approx(1.0)


@pytest.mark.parametrize("data, problem", [(b"not an image", "not a readable image"), (None, "blank")])
def test_an_unreadable_or_blank_upload_is_refused(data, problem):
    if data is None:
        buf = io.BytesIO()
        Image.new("L", (28, 28), color=0).save(buf, format="PNG")
        data = buf.getvalue()
    with pytest.raises(ValueError, match=problem):
        attention.picture_values(data)


def test_one_channel_pictures_are_drawn_as_the_maps_are_the_same_bytes_for_mnist(pictures):
    from explainers import render

    typical, _ = pictures
    assert attention.digit_png(typical[3]) == render.map_png(typical[3])


def test_three_classes_and_five_checks_ask_about_every_class_before_asking_again():
    plans = attention.plan_checks(5, random.Random(0), n_options=4, n_classes=3)
    asked = [p.digit for p in plans]
    assert sorted(asked[:3]) == [0, 1, 2] and len(set(asked[3:])) == 2
    for plan in plans:  # four options: twins of one other class, then the other (2 others, 2 drawn)
        twin, twin_again, other = plan.distractors
        assert twin == twin_again and {twin, other} == {0, 1, 2} - {plan.digit}


def test_with_fewer_other_classes_than_distractors_need_the_others_repeat_in_one_drawn_order():
    for plan in attention.plan_checks(6, random.Random(1), n_options=6, n_classes=3):
        # five distractors of two other classes: twins, then the two others drawn, then again in that order
        first, *rest = plan.distractors
        assert plan.digit not in plan.distractors and len(plan.distractors) == 5
        assert first == rest[0] and rest[2] == rest[0] and rest[3] == rest[1] != rest[0]


def test_a_colour_picture_is_the_image_itself_at_the_size_asked():
    image = np.zeros((3, 2, 4), dtype=np.float32)
    image[0, :, :2] = 1.0  # left half red
    image[2, :, 2:] = 0.5  # right half dark blue
    png = attention.class_png(image.ravel(), (3, 2, 4), size=(40, 20))
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert pixels.shape == (20, 40, 3)
    assert pixels[10, 5].tolist() == [255, 0, 0] and pixels[10, 35].tolist() == [0, 0, 128]


def test_a_picture_without_a_size_is_about_280_pixels_on_its_longer_side():
    assert attention.default_size((1, 28, 28)) == (280, 280)
    assert attention.default_size((3, 12, 16)) == (288, 216)


def test_the_example_of_a_colour_set_is_drawn_at_its_size_with_the_blue_oval():
    from survey.testing import OTHER_SHAPE, fake_pictures

    typical, means = fake_pictures(OTHER_SHAPE, 3)
    png = attention.example_png(typical, means, attention.example_class(3), OTHER_SHAPE)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert pixels.shape == (216, 288, 3)
    assert ((pixels[:, :, 2] > 200) & (pixels[:, :, 0] < 100) & (pixels[:, :, 1] > 90)).sum() > 100


def test_the_example_is_mnists_four_and_the_last_class_of_a_smaller_set():
    assert (attention.example_class(10), attention.example_class(3)) == (4, 2)


def test_an_upload_for_a_colour_study_becomes_its_rgb_values_channel_major():
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color=(255, 0, 0)).save(buf, format="PNG")
    values = attention.picture_values(buf.getvalue(), (3, 12, 16)).reshape(3, 12, 16)
    assert values[0].min() == pytest.approx(1.0) and values[1:].max() == 0.0


def test_a_class_missing_from_the_data_is_named():
    with pytest.raises(ValueError, match="no image of class owl"):
        attention.typical_images(np.zeros((2, 4)), np.array([0, 1]), ("cat", "dog", "owl"), "class")
