"""The study's own texts on the participant pages (and on the researcher's preview of them).

Each tag takes the study and the name of one of its text fields and renders it through
``survey.texts`` (escaped, placeholders filled from ``Study.text_values``): no query, so the
question page stays as fast as with the old fixed wording.
"""

from __future__ import annotations

import re

from django import template
from django.utils.safestring import SafeString

from survey import texts

register = template.Library()

# Django's ``linebreaks`` splits paragraphs at two or more newlines, after normalising line ends.
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


@register.simple_tag
def study_text(study, field: str, label=None) -> SafeString:
    """One text on one line (a legend, a sentence): escaped, placeholders filled, ``{label}`` highlighted."""
    return texts.fill(getattr(study, field), study.text_values(label))


@register.simple_tag
def class_name(study, digit) -> str:
    """The name of the class a question is about (``Study.class_name``: MNIST's digit itself)."""
    return study.class_name(int(digit))


@register.simple_tag
def study_paragraphs(study, field: str, label=None) -> SafeString:
    """A text as paragraphs (blank lines between them), escaped and filled."""
    return texts.paragraphs(getattr(study, field), study.text_values(label))


@register.simple_tag
def study_paragraph_blocks(study, field: str) -> list[SafeString]:
    """A text's paragraphs one by one (each as ``<p>...</p>``), so a page can place a picture between them."""
    text = getattr(study, field).replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    values = study.text_values()
    return [texts.paragraphs(block, values) for block in _PARAGRAPH_BREAK.split(text) if block.strip()]


@register.simple_tag
def error_contact(study=None) -> SafeString:
    """Whom to contact on an error page: the study's ``error_contact``, or the default when no study is known."""
    if not study:  # absent from the page's context: Django passes ''
        return texts.fill(texts.DEFAULT_ERROR_CONTACT, {})
    return study_text(study, "error_contact")
