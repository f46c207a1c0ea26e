"""The study is blind: nothing a participant can reach names a method, links to the gallery or
tells the options of a question apart by their picture URLs; the gallery is for staff only.

The walk goes through the real views with the test client, as a participant's browser would:
the site root, the MTurk preview, consent pages of every platform, start, instructions, every
question (real ones and attention checks), finish, and the error pages, fetching every picture.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urljoin

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from explainers.methods import registry
from explainers.models import MethodName
from survey.models import Item, Participant
from survey.pictures import DATA_URL, NoSuchPicture, picture, png_of
from survey.testing import correct_position, make_explanation_set, make_study

pytestmark = pytest.mark.django_db

LINK = re.compile(r'(?:src|href|action)="([^"]*)"')
PICTURE = re.compile(r'<img[^>]*\ssrc="([^"]+)"')
WORDS = re.compile(r"[a-z0-9]+")


def _words(text: str) -> str:
    return " " + " ".join(WORDS.findall(text.lower())) + " "


# Every name and label a method goes by, as runs of words ("SmoothGrad²" -> "smoothgrad").
METHOD_TERMS = sorted(
    {
        _words(term)
        for pair in (*MethodName.choices, *((name, registry.label(name)) for name in registry.names()))
        for term in pair
    }
    - {"  "}
)


def png_text(data: bytes) -> str:
    """The text a PNG carries besides its pixels (tEXt, zTXt, iTXt chunks: keywords, software...)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            chunks.append(data[at + 8 : at + 8 + length].decode("latin-1"))
        at += 12 + length
    return " ".join(chunks)


def gallery_prefix() -> str:
    return reverse("explainers:set_list")


class Walk:
    """A participant's browser that checks every page and picture it is given."""

    def __init__(self, client: Client):
        self.client = client
        self.secrets: list[str] = []  # signed participant tokens: random text, not the site's words
        self.pages = 0

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "TOKEN")
        return text

    def check_text(self, text: str, where: str) -> None:
        words = _words(self._scrub(text))
        named = [term.strip() for term in METHOD_TERMS if term in words]
        assert not named, f"{where} names a method: {named}"
        assert gallery_prefix() not in text, f"{where} links to the gallery"

    def request(self, method: str, url: str, data: dict | None = None, status: int | None = None):
        response = self.client.generic(method, url) if data is None else self.client.post(url, data)
        if status is not None:
            assert response.status_code == status, (url, response.status_code)
        self.check_text(url, f"URL {url}")
        if response.has_header("Location"):
            self.check_text(response["Location"], f"redirect from {url}")
        if response.get("Content-Type", "").startswith("text/html"):
            body = response.content.decode()
            self.pages += 1
            # The pictures' base64 is checked decoded (pictures_of), not as words: it could spell "ig".
            self.check_text(DATA_URL.sub("PICTURE", body), f"page {url}")
            for link in LINK.findall(body):
                assert not urljoin(url, link).startswith(gallery_prefix()), f"{url} links to {link}"
        return response

    def get(self, url: str, status: int | None = 200, **params):
        if params:
            url = f"{url}?{urlencode(params)}"
        return self.request("GET", url, status=status)

    def pictures_of(self, response) -> list[str]:
        """The picture URLs on a page: PNGs in the page (or fetched, if served apart) whose text names nothing."""
        urls = PICTURE.findall(response.content.decode())
        for url in urls:
            if url.startswith("data:"):
                png = png_of(url)
            else:
                served = self.request("GET", url, status=200)
                assert served["Content-Type"] == "image/png"
                png = served.content
            self.check_text(png_text(png), f"text chunks of picture {len(url)} characters long")
        return urls

    def question_pictures(self, response, where: str, k: int = 4) -> list[str]:
        urls = self.pictures_of(response)
        assert len(urls) == k and len(set(urls)) == k, f"{where}: picture URLs repeat within the question: {urls}"
        return urls


@pytest.fixture
def blind_study(explanation_set):
    return make_study(explanation_set, slug="blind", accept_prolific=True, prolific_completion_code="DONE123")


def take_part(walk: Walk, study, entry: dict) -> Participant:
    """Consent, start, instructions, every question (and one unanswered submit), finish."""
    landing = reverse("survey:landing", args=[study.slug])
    walk.get(landing, **entry)
    started = walk.request("POST", reverse("survey:start", args=[study.slug]), {**entry, "consent": "on"}, status=303)
    home = started["Location"]
    walk.secrets.append(home.rstrip("/").rsplit("/", 1)[-1])
    participant = Participant.objects.latest("started_at")
    page = walk.get(home)
    walk.pictures_of(page)  # the instructions' example
    walk.get(home, instructions=1)
    seen: dict[str, int] = {}
    for position in range(1, study.n_questions + 1):
        url = f"{home}q/{position}/"
        page = walk.get(url)
        urls = walk.question_pictures(page, f"question {position}", study.n_options)
        for picture in urls:  # noqa: F402 (the pictures shown, not the view)
            assert picture not in seen, f"{picture} is on questions {seen[picture]} and {position}"
            seen[picture] = position
        item = re.search(r'name="item" value="(\d+)"', page.content.decode()).group(1)
        if position == 1:  # sent without a choice: the question again, with a message
            walk.question_pictures(
                walk.request("POST", url, {"item": item}, status=400), "question 1 again", study.n_options
            )
        choice = correct_position(participant, position) or 1
        walk.request("POST", url, {"item": item, "choice": choice}, status=303)
    finished = walk.get(f"{home}finish/", status=None)
    assert finished.status_code == (302 if participant.platform == Participant.Platform.PROLIFIC else 200)
    walk.get(landing, status=403, **entry)  # a second visit: refused, politely
    return participant


def test_nothing_a_participant_reaches_names_a_method_links_to_the_gallery_or_repeats_a_picture(client, blind_study):
    assert {"normlime", "lime", "smoothgrad", "vargrad"} <= {t.strip() for t in METHOD_TERMS}  # the check has teeth
    kinds = set(Item.objects.filter(study=blind_study).values_list("kind", flat=True))
    assert kinds == {Item.Kind.REAL, Item.Kind.ATTENTION}
    walk = Walk(client)
    slug = blind_study.slug
    landing = reverse("survey:landing", args=[slug])

    assert "through the link to their study" in walk.get("/").content.decode()
    preview = walk.get(landing, assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="3HIT")
    walk.pictures_of(preview)  # the example
    assert len(set(PICTURE.findall(preview.content.decode()))) == 5  # the example and four distinct options

    take_part(
        walk,
        blind_study,
        {
            "assignmentId": "3ASSIGN",
            "hitId": "3HIT",
            "workerId": "A1WORKER",
            "turkSubmitTo": "https://workersandbox.mturk.com",
        },
    )
    take_part(walk, blind_study, {"PROLIFIC_PID": "p" * 24, "STUDY_ID": "s" * 24, "SESSION_ID": "x" * 24})
    take_part(Walk(Client()), blind_study, {})  # a direct link, in a browser of its own

    # Error pages a participant can run into.
    walk.get(reverse("survey:landing", args=["no-such-study"]), status=404)
    walk.get(landing, status=400, assignmentId="3OTHER")
    walk.get(reverse("survey:home", args=[slug, "forged-token"]), status=403)
    walk.get("/s/img/" + "0" * 24 + ".png", status=404)  # pictures are in the pages, not served apart
    walk.get("/no/such/page/", status=404)
    a_map = blind_study.images.filter(role="map").first()
    with pytest.raises(NoSuchPicture):  # a map is shown only through an option, under the option's key
        picture(a_map.key)
    walk.get(reverse("admin:login"))  # where the refused gallery sends everyone (refusal: below)
    blind_study.status = blind_study.Status.CLOSED
    blind_study.save()
    walk.get(
        landing,
        status=403,
        workerId="A2",
        assignmentId="3B",
        hitId="3HIT",
        turkSubmitTo="https://workersandbox.mturk.com",
    )
    assert walk.pages >= 3 * blind_study.n_questions  # the walk did go through the questions


@pytest.mark.parametrize(
    "methods", [("shap", "random"), ("normlime", "lime", "smoothgrad", "vargrad", "shap", "random")]
)
def test_a_study_of_k_methods_is_as_blind(client, methods):
    study = make_study(make_explanation_set("k-set", methods), slug="blind-k", methods=methods)
    walk = Walk(client)
    preview = walk.get(
        reverse("survey:landing", args=[study.slug]), assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="3HIT"
    )
    assert len(set(PICTURE.findall(preview.content.decode()))) == len(methods) + 1  # the example and k options
    take_part(walk, study, {})
    check = Item.objects.filter(study=study, kind=Item.Kind.ATTENTION).first()
    assert len({picture(o.key) for o in check.options.all()}) == len(methods)


def test_the_options_of_an_attention_check_have_distinct_pictures_urls_though_two_show_one_image(client, blind_study):
    check = Item.objects.filter(study=blind_study, kind=Item.Kind.ATTENTION).first()
    options = list(check.options.all())
    assert len({o.image_id for o in options}) == 3  # the twin distractors share an image...
    assert len({picture(o.key) for o in options}) == 4  # ...but not a URL


def test_the_item_ids_on_the_pages_do_not_sort_the_attention_checks_apart(blind_study):
    kinds = list(Item.objects.filter(study=blind_study).order_by("pk").values_list("kind", flat=True))
    numbers = list(Item.objects.filter(study=blind_study).order_by("pk").values_list("number", flat=True))
    assert kinds != sorted(kinds) and kinds != sorted(kinds, reverse=True)  # the answer form sends the id
    assert numbers != sorted(numbers)


@pytest.mark.parametrize(
    "name,args",
    [
        ("set_list", []),
        ("set_detail", ["test-set"]),
        ("overview_png", ["test-set"]),
        ("map_png", ["test-set", "normlime", 3]),
    ],
)
def test_the_gallery_refuses_anonymous_visitors_and_users_who_are_not_staff(
    client, staff_user, explanation_set, name, args
):
    url = reverse(f"explainers:{name}", args=args)
    login = reverse("admin:login")
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(login)
    client.force_login(User.objects.create_user("plain", password="x"))
    plain = client.get(url)
    assert plain.status_code == 302 and plain["Location"].startswith(login)
    client.force_login(staff_user)
    if name != "overview_png":  # the test set has no overview picture
        assert client.get(url).status_code == 200
