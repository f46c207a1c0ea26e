"""survey.platforms.mturk helpers: the ExternalQuestion, submit targets, answers, tokens."""

import pytest

from survey.platforms import mturk
from survey.platforms.mturk import HitOptions, MTurkError


def test_the_external_question_escapes_the_url():
    xml = mturk.external_question_xml("https://study.example.org/s/demo/?a=1&b=<2>")
    assert "<ExternalURL>https://study.example.org/s/demo/?a=1&amp;b=&lt;2&gt;</ExternalURL>" in xml
    assert "<FrameHeight>0</FrameHeight>" in xml and mturk.QUESTION_SCHEMA in xml


def test_the_external_question_needs_https():
    with pytest.raises(MTurkError, match="https"):
        mturk.external_question_xml("http://study.example.org/s/demo/")


@pytest.mark.parametrize(
    "target, ok",
    [
        ("https://www.mturk.com", True),
        ("https://workersandbox.mturk.com/", True),
        ("https://WWW.MTURK.COM", True),
        ("http://www.mturk.com", False),
        ("https://www.mturk.com.evil.example", False),
        ("https://www.mturk.com/elsewhere", False),
        ("https://evil.example", False),
    ],
)
def test_only_mturks_own_sites_receive_the_finish_form(target, ok):
    assert mturk.is_allowed_submit_target(target) is ok


def test_the_submit_url_is_the_external_submit_of_turk_submit_to():
    assert mturk.submit_url("https://www.mturk.com/") == "https://www.mturk.com/mturk/externalSubmit"


def test_the_posted_fields_are_read_from_the_answer_xml():
    xml = (
        '<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd">'
        "<Answer><QuestionIdentifier>completion_code</QuestionIdentifier><FreeText>ABC123</FreeText></Answer>"
        "</QuestionFormAnswers>"
    )
    assert mturk.answer_fields(xml) == {"completion_code": "ABC123"}
    assert mturk.answer_fields("not xml") == {}


def test_the_request_token_depends_on_study_marketplace_and_batch(study):
    tokens = {mturk.request_token(study, live, batch) for live in (False, True) for batch in ("1", "2")}
    assert len(tokens) == 4 and all(len(t) <= 64 for t in tokens)
    assert mturk.request_token(study, False, "1") == mturk.request_token(study, False, "1")


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"reward": "abc"}, "not an amount"),
        ({"reward": "0.001"}, "whole cents"),
        ({"assignments": 0}, "at least 1"),
        ({"duration_seconds": 5}, "duration"),
        ({"min_approval_rate": 101}, "percentage"),
    ],
)
def test_impossible_hit_options_are_refused(change, problem):
    with pytest.raises(MTurkError, match=problem):
        HitOptions(**change).check()


def test_qualifications_are_built_from_the_options():
    quals = HitOptions(
        min_approval_rate=95, min_approved_hits=500, locales=["us"], masters=True, qualification_ids=["CUSTOM"]
    ).qualifications(live=True)
    ids = [q["QualificationTypeId"] for q in quals]
    assert ids == [
        mturk.QUAL_PERCENT_APPROVED,
        mturk.QUAL_NUMBER_APPROVED,
        mturk.QUAL_LOCALE,
        mturk.QUAL_MASTERS[True],
        "CUSTOM",
    ]
    assert quals[2]["LocaleValues"] == [{"Country": "US"}]


def test_the_client_talks_to_the_sandbox_unless_live():
    assert "sandbox" in mturk.make_client(live=False).meta.endpoint_url
    assert mturk.make_client(live=True).meta.endpoint_url == "https://mturk-requester.us-east-1.amazonaws.com"


def test_the_hit_description_gives_the_studys_own_numbers(study, explanation_set):
    from survey.testing import make_explanation_set, make_study

    assert mturk.hit_description(study) == (
        "Look at 25 sets of four images and pick, in each, the one that best explains a digit. About 10 minutes."
    )
    three = make_study(
        make_explanation_set("three", ("normlime", "lime", "vargrad")),
        slug="three",
        methods=("normlime", "lime", "vargrad"),
    )
    assert mturk.hit_description(three).startswith("Look at 35 sets of three images")
