"""Pictures as participants get them: inside the page, as ``data:`` URLs unique per option.

A question shows k pictures. Served one by one they were k of a question's k + 2 requests and
about a third of the server's CPU per answer (4 x 2.7 of 32.6 ms, benchmarks/survey_load.py),
and no browser cache could help: an option's picture URL is unique, so that it never tells
which options (or questions) share an image. In the page they cost one base64 encoding per
option and worker. Each option's bytes carry the option's opaque key in a ``tEXt`` chunk, so
that two options showing one image (an attention check's twin distractors, one map in two
questions) still differ in the page source.
"""

from __future__ import annotations

import base64
import re
import zlib
from functools import lru_cache

from .models import ItemOption, StudyImage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEADER_END = len(PNG_SIGNATURE) + 4 + 4 + 13 + 4  # the signature and the IHDR chunk (length, type, 13 bytes, CRC)
KEY_KEYWORD = b"Comment"


class NoSuchPicture(LookupError):
    pass


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC of type and data (PNG spec, section 5.3)."""
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def keyed_png(png: bytes, key: str) -> bytes:
    """``png`` with ``key`` in a ``tEXt`` chunk right after its header: the same pixels, bytes unique per key."""
    if png[:8] != PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return png[:_HEADER_END] + png_chunk(b"tEXt", KEY_KEYWORD + b"\0" + key.encode("ascii")) + png[_HEADER_END:]


DATA_URL_PREFIX = "data:image/png;base64,"
DATA_URL = re.compile(re.escape(DATA_URL_PREFIX) + r"[A-Za-z0-9+/]*={0,2}")


def data_url(png: bytes) -> str:
    return DATA_URL_PREFIX + base64.b64encode(png).decode("ascii")


def png_of(url: str) -> bytes:
    """The bytes of a picture's ``data:`` URL (the inverse of :func:`data_url`)."""
    if not url.startswith(DATA_URL_PREFIX):
        raise ValueError("not a PNG data: URL")
    return base64.b64decode(url[len(DATA_URL_PREFIX) :], validate=True)


@lru_cache(maxsize=2048)  # ~12 MB at most per worker; a miss raises, and exceptions are not cached
def picture(key: str) -> str:
    """The ``data:`` URL of the option (or instructions example) with this key, built once per worker.

    A key's picture never changes (a replaced check gets new options, with new keys).
    """
    png = ItemOption.objects.filter(key=key).values_list("image__png", flat=True).first()
    if png is None:
        png = StudyImage.objects.filter(key=key, role=StudyImage.Role.EXAMPLE).values_list("png", flat=True).first()
    if png is None:
        raise NoSuchPicture(key)
    return data_url(keyed_png(bytes(png), key))
