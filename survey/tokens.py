"""The participant token: a signed, dated participant id carried in URLs and forms.

Participant pages often run inside Mechanical Turk's frame, where browsers block third-party
cookies; the token replaces the session cookie there. It doubles as the CSRF defence of the
participant's forms (an attacker's page cannot know it).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing

SALT = "survey.participant"


class BadToken(Exception):
    """The token is forged, damaged or too old."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def make_token(public_id: uuid.UUID) -> str:
    return _signer().sign(public_id.hex)


def read_token(token: str) -> uuid.UUID:
    """The participant id inside ``token``; raises :class:`BadToken` if it is not one of ours."""
    try:
        value = _signer().unsign(token, max_age=settings.SURVEY_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise BadToken("expired") from None
    except signing.BadSignature:
        raise BadToken("bad signature") from None
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        raise BadToken("not a participant id") from None
