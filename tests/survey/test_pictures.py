import io

import pytest
from PIL import Image

from survey.models import ItemOption
from survey.pictures import NoSuchPicture, data_url, keyed_png, picture, png_chunk, png_of


def a_png(pixels=(0, 255, 128, 7)) -> bytes:
    image = Image.new("L", (2, 2))
    image.putdata(pixels)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_a_chunk_is_its_length_type_data_and_crc_as_the_png_spec_writes_iend():
    # Every PNG ends with this chunk; its CRC (AE 42 60 82) is printed in the PNG specification.
    assert png_chunk(b"IEND", b"") == b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_a_keyed_png_carries_its_key_in_a_text_chunk_after_the_header_and_the_same_pixels():
    png = a_png()
    keyed = keyed_png(png, "ab12")
    assert keyed[:33] == png[:33]  # signature (8) + IHDR (4 + 4 + 13 + 4)
    assert keyed[33 : 33 + 8 + 12] == b"\x00\x00\x00\x0ctEXtComment\x00ab12"  # 12 bytes of data: "Comment", NUL, key
    assert keyed[33 + 20 + 4 :] == png[33:]  # then its CRC and the original chunks, untouched
    image = Image.open(io.BytesIO(keyed))
    image.load()  # Pillow checks every chunk's CRC while reading
    assert image.text == {"Comment": "ab12"} and image.tobytes() == bytes([0, 255, 128, 7])


def test_two_keys_give_one_picture_two_different_byte_strings():
    png = a_png()
    assert keyed_png(png, "k1") != keyed_png(png, "k2")


def test_something_that_is_not_a_png_is_refused():
    with pytest.raises(ValueError, match="not a PNG"):
        keyed_png(b"GIF89a" + b"\0" * 40, "k")


def test_a_data_url_is_the_base64_of_the_bytes_and_reads_back():
    assert data_url(b"\x89PNG") == "data:image/png;base64,iVBORw=="
    assert png_of("data:image/png;base64,iVBORw==") == b"\x89PNG"
    with pytest.raises(ValueError):
        png_of("/s/img/abc.png")


@pytest.mark.django_db
def test_an_options_picture_is_its_images_pixels_under_the_options_key(study):
    option = ItemOption.objects.filter(item__study=study, method="lime").select_related("image").first()
    keyed = png_of(picture(option.key))
    assert keyed == keyed_png(bytes(option.image.png), option.key)


@pytest.mark.django_db
def test_an_images_own_key_gives_no_picture_except_the_instructions_example(study):
    a_map = study.images.filter(role="map").first()
    with pytest.raises(NoSuchPicture):
        picture(a_map.key)
    example = study.images.get(role="example")
    assert png_of(picture(example.key)) == keyed_png(bytes(example.png), example.key)
