"""What participants read: each study's texts, their defaults (the paper's wording) and how they are shown.

A study's texts (consent, instructions, question prompt, completion message, the contact on
error pages) are plain text a researcher types, never markup: :func:`render` escapes every
character of them and then fills in the placeholders below, so ``<script>`` typed into a text
is shown as the characters ``<script>``. Blank lines separate paragraphs; a single line break
is kept.

Placeholders (written ``{name}``; ``{{`` and ``}}`` give literal braces):

``{label}``      the class the question is about, by name, highlighted (e.g. the digit 2, or cat)
``{options}``    images per question, in words ("four")
``{others}``     how many other classes there are, in words ("nine")
``{questions}``  questions in the study, attention checks included (25)
``{minutes}``    the study's expected duration in minutes

No Django here beyond its escaping helpers: the study file (``survey.study_file``), the forms
and the models all check texts with :func:`check` and take the defaults from this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

PLACEHOLDERS: dict[str, str] = {
    "label": "the class the question is about, highlighted (the digit, for MNIST)",
    "options": "images per question, in words",
    "others": "how many other classes there are, in words",
    "questions": "questions in the study, attention checks included",
    "minutes": "the study's expected duration in minutes",
}

NUMBER_WORDS = {
    1: "one",
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
}


def in_words(n: int) -> str:
    """A small number as participants read it ("four"); digits beyond ten."""
    return NUMBER_WORDS.get(n, str(n))


# The paper's wording (its Fig. 3 instructions and Fig. 4 question), with the numbers that
# depend on the study as placeholders.
DEFAULT_PROMPT = (
    "From the following set of {options} images, please select the image that best highlights the pixels "
    "that distinguish the number {label} from the other {others} possible digits."
)
DEFAULT_INSTRUCTIONS = (
    "For each set of images, please select the image that best highlights the pixels that are most important "
    "in distinguishing this particular number from the other {others} numbers.\n\n"
    "For example, with the image of the number 4, the red pixels inside of the blue oval constituting the "
    "corner of the arm of the four might be considered more important than other pixels in the image because "
    "these pixels are NOT activated in images of most representations of the other {others} numbers but ARE "
    "activated often in images of other fours. Therefore, a model that produces an image that highlights these "
    "circled pixels when generating the explanatory image might be considered better at explaining the number "
    "four than others that don't.\n\n"
    "Pay close attention to the number that each model is trying to represent. This number is highlighted in "
    "yellow in the description above each set of {options} images. This number is always the same as the "
    "“Label” above each image in each set."
)
#: What MNIST's classes are called (``explainers.data.MNIST_NOUN``): its studies read the paper's words above.
PAPER_NOUN = "digit"


def plural(noun: str) -> str:
    """``"class"`` -> ``"classes"``, ``"digit"`` -> ``"digits"`` (English's regular plural)."""
    return noun + ("es" if noun.endswith(("s", "x", "z", "ch", "sh")) else "s")


def label_noun(noun: str) -> str:
    """How a question's class is introduced: the paper says "the number 2" of a digit; other sets say their noun."""
    return "number" if noun == PAPER_NOUN else noun


def _literal(text: str) -> str:
    """``text`` as literal characters of a study text (braces doubled, see :func:`check`)."""
    return text.replace("{", "{{").replace("}", "}}")


def default_texts(noun: str, example: str, n_classes: int | None = None) -> dict[str, str]:
    """The default question prompt and instructions of a study whose classes are called ``noun``.

    The one rule for every data set: MNIST's (``noun`` "digit") are the paper's words
    (:data:`DEFAULT_PROMPT`, :data:`DEFAULT_INSTRUCTIONS`); any other set reads the same sentences
    with its noun ("distinguish {label} from the other {others} classes"), ``example`` being the
    name of the class the instructions' picture shows. With two classes the other one is singular
    ("from the other one class").
    """
    if noun == PAPER_NOUN:
        return {"question_prompt": DEFAULT_PROMPT, "instructions_text": DEFAULT_INSTRUCTIONS}
    one, many, example = _literal(noun), _literal(noun if n_classes == 2 else plural(noun)), _literal(example)
    prompt = (
        "From the following set of {options} images, please select the image that best highlights the pixels "
        f"that distinguish {{label}} from the other {{others}} {many}."
    )
    instructions = (
        "For each set of images, please select the image that best highlights the pixels that are most important "
        f"in distinguishing this particular {one} from the other {{others}} {many}.\n\n"
        f"For example, in the image of {example}, the pixels inside of the blue oval might be considered more "
        f"important than other pixels in the image because they look different in images of most of the other "
        f"{{others}} {many} but alike in other images of {example}. Therefore, a model that produces an image that "
        f"highlights these circled pixels might be considered better at explaining {example} than others that "
        "don't.\n\n"
        f"Pay close attention to the {one} that each model is trying to represent. This {one} is highlighted in "
        "yellow in the description above each set of {options} images. It is always the same as the “Label” "
        "above each image in each set."
    )
    return {"question_prompt": prompt, "instructions_text": instructions}


DEFAULT_COMPLETION = "Thank you for taking part. You have answered all {questions} questions."
DEFAULT_ERROR_CONTACT = "If you think this is a mistake, please contact the researchers."

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TextError(ValueError):
    """A text that cannot be shown: an unknown placeholder or a lone brace (the message names it)."""


def check(text: str) -> str:
    """``text`` if every placeholder in it is known; else :class:`TextError` naming the first bad one."""
    for match in _FIELD.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise TextError(f"a lone {token!r}: write {token * 2!r} for a literal brace")
        if name not in PLACEHOLDERS:
            raise TextError(f"unknown placeholder {{{name}}} (known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    return text


def validate(text: str) -> None:
    """:func:`check` as a Django validator (the models' text fields use it)."""
    from django.core.exceptions import ValidationError

    try:
        check(text)
    except TextError as exc:
        raise ValidationError(str(exc)) from None


def fill(text: str, values: Mapping[str, object], highlight: frozenset[str] = frozenset({"label"})) -> SafeString:
    """``text`` escaped, with its placeholders replaced by (escaped) ``values``; ``highlight`` ones in <mark>.

    A placeholder without a value is left as typed (a preview made before a question exists).
    """

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return escape(token[0])
        name = match.group(1)
        if name is None or name not in values:
            return escape(token)
        value = escape(str(values[name]))
        return f'<mark class="digit">{value}</mark>' if name in highlight else value

    # Escape the text between placeholders, never the markup this function writes itself.
    out, last = [], 0
    for match in _FIELD.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(replace(match))
        last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))


def paragraphs(text: str, values: Mapping[str, object]) -> SafeString:
    """:func:`fill`, then blank lines as paragraphs and single line breaks kept (Django's ``linebreaks``)."""
    # linebreaks(autoescape=False) only adds <p>/<br>; the text was escaped by fill.
    return mark_safe(linebreaks(fill(text, values), autoescape=False))
