import pytest

from survey import texts


def test_fill_escapes_markup_typed_into_a_text():
    out = texts.fill("<script>alert(1)</script> & {label}", {"label": "<b>2</b>"})
    assert out == '&lt;script&gt;alert(1)&lt;/script&gt; &amp; <mark class="digit">&lt;b&gt;2&lt;/b&gt;</mark>'


def test_fill_replaces_each_known_placeholder_and_keeps_doubled_braces_as_braces():
    out = texts.fill("{options} of {questions}, {{literal}}", {"options": "four", "questions": 25})
    assert out == "four of 25, {literal}"


def test_fill_leaves_a_placeholder_without_a_value_as_typed():
    assert texts.fill("the number {label}", {}) == "the number {label}"


def test_paragraphs_splits_on_blank_lines_and_keeps_single_breaks():
    assert texts.paragraphs("a\nb\n\nc", {}) == "<p>a<br>b</p>\n\n<p>c</p>"


def test_check_names_an_unknown_placeholder():
    with pytest.raises(texts.TextError, match=r"unknown placeholder \{digit\}"):
        texts.check("the number {digit}")


def test_check_refuses_a_lone_brace():
    with pytest.raises(texts.TextError, match="lone '{'"):
        texts.check("a { b")


@pytest.mark.parametrize(
    "text", [texts.DEFAULT_PROMPT, texts.DEFAULT_INSTRUCTIONS, texts.DEFAULT_COMPLETION, texts.DEFAULT_ERROR_CONTACT]
)
def test_every_default_text_passes_its_own_check(text):
    assert texts.check(text) == text


def test_the_default_prompt_is_the_papers_wording_once_filled_in():
    filled = texts.fill(texts.DEFAULT_PROMPT, {"options": "four", "others": "nine", "label": 2})
    assert filled == (
        "From the following set of four images, please select the image that best highlights the pixels that "
        'distinguish the number <mark class="digit">2</mark> from the other nine possible digits.'
    )


def test_in_words_spells_small_numbers_and_writes_digits_beyond_ten():
    assert (texts.in_words(4), texts.in_words(9), texts.in_words(11)) == ("four", "nine", "11")


def test_mnists_default_texts_are_the_papers_words():
    assert texts.default_texts("digit", "4") == {
        "question_prompt": texts.DEFAULT_PROMPT,
        "instructions_text": texts.DEFAULT_INSTRUCTIONS,
    }


def test_another_sets_prompt_names_the_class_and_the_other_classes_by_the_sets_noun():
    made = texts.default_texts("class", "owl")
    filled = texts.fill(made["question_prompt"], {"options": "four", "others": "two", "label": "cat"})
    assert filled.endswith('distinguish <mark class="digit">cat</mark> from the other two classes.')
    instructions = texts.fill(made["instructions_text"], {"options": "four", "others": "two"})
    assert "in the image of owl" in instructions and "number" not in instructions


def test_a_class_name_with_braces_is_shown_as_typed_not_read_as_a_placeholder():
    made = texts.default_texts("class", "{odd}")
    assert texts.check(made["instructions_text"])
    assert "in the image of {odd}" in texts.fill(made["instructions_text"], {"others": "two"})


@pytest.mark.parametrize("noun, plural", [("class", "classes"), ("digit", "digits"), ("box", "boxes")])
def test_a_noun_has_its_regular_plural(noun, plural):
    assert texts.plural(noun) == plural


def test_with_two_classes_the_other_one_is_singular():
    made = texts.default_texts("class", "cat", n_classes=2)
    assert made["question_prompt"].endswith("from the other {others} class.")
    assert texts.default_texts("class", "cat", n_classes=3)["question_prompt"].endswith("{others} classes.")
