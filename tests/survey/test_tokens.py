"""survey.tokens: the signed participant token that replaces cookies inside MTurk's frame."""

import uuid

import pytest

from survey.tokens import BadToken, make_token, read_token


def test_a_token_gives_back_the_participant_id():
    public_id = uuid.uuid4()
    assert read_token(make_token(public_id)) == public_id


def test_a_token_with_another_id_swapped_in_is_refused():
    token = make_token(uuid.uuid4())
    forged = uuid.uuid4().hex + token[32:]
    with pytest.raises(BadToken, match="bad signature"):
        read_token(forged)


@pytest.mark.parametrize("junk", ["", "abc", "x:y:z", "0" * 32])
def test_junk_is_not_a_token(junk):
    with pytest.raises(BadToken):
        read_token(junk)


def test_a_token_older_than_the_allowed_age_is_refused(settings):
    token = make_token(uuid.uuid4())
    settings.SURVEY_TOKEN_MAX_AGE = -1
    with pytest.raises(BadToken, match="expired"):
        read_token(token)


def test_a_token_signed_with_another_secret_is_refused(settings):
    token = make_token(uuid.uuid4())
    settings.SECRET_KEY = "another-secret-key-that-is-long-enough-for-the-signer-0123456789"
    with pytest.raises(BadToken):
        read_token(token)
