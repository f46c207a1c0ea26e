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
