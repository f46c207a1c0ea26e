"""Building studies: their methods, question counts, items, images and consent text; replacing attention checks."""

from __future__ import annotations

import logging
import math
import random
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from explainers.data import MNIST_CLASSES
from explainers.methods import registry
from explainers.models import ClassMap, ExplanationSet, MethodName

from .. import texts
from ..models import (
    MAX_OPTIONS,
    MAX_REAL_QUESTIONS,
    MIN_OPTIONS,
    Item,
    ItemOption,
    Study,
    StudyImage,
    default_consent,
    estimated_minutes,
)
from ..rules import DEFAULT_ATTENTION_CHECKS, DEFAULT_PASS_THRESHOLD, MAX_ATTENTION_CHECKS, MIN_ATTENTION_CHECKS
from ..sheets import square_rows
from .errors import BadStudyInput, StudyLocked

if TYPE_CHECKING:
    import numpy as np

    from explainers.data import ImageData

# survey.attention (NumPy, Pillow, matplotlib) is imported inside the functions that build studies:
# participants' pages import this package and must stay light (a fresh worker answers at once).

logger = logging.getLogger(__name__)

DEMO_SLUG = "demo"
#: Slugs the research pages' own URLs use (``research/studies/new/``): a study so named would lose its monitor.
RESERVED_SLUGS = ("new",)
#: The title participants see unless the researcher gives one.
DEFAULT_STUDY_NAME = "Which picture explains the digit best?"
#: Real questions a study has unless told otherwise: at least this many (the paper's 20).
MIN_DEFAULT_REAL_QUESTIONS = 20


#: MNIST's number of classes: the rules' default, so that a study of MNIST reads as before.
MNIST_N_CLASSES = len(MNIST_CLASSES)


def real_question_block(n_methods: int, n_classes: int = MNIST_N_CLASSES) -> int:
    """The number of real questions must be a multiple of this: lcm(n_classes, rows of the Latin square).

    Every class equally often needs a multiple of ``n_classes``; every method in every position
    equally often needs a multiple of the rows of the Williams square :func:`survey.sheets.deal_rows`
    deals equally often: k rows for even k, 2k for odd k (:func:`survey.sheets.square_rows`). With an
    even number of classes (MNIST's ten) this is lcm(n_classes, k); three classes and three methods
    need 6, not 3.
    """
    return math.lcm(n_classes, square_rows(n_methods))


def block_rule_text(n_methods: int, n_classes: int = MNIST_N_CLASSES) -> str:
    """:func:`real_question_block` as a formula for messages: "lcm(10, 4)", or "lcm(3, 2 x 3)" where
    the odd square's doubled rows matter."""
    if math.lcm(n_classes, n_methods) == real_question_block(n_methods, n_classes):
        return f"lcm({n_classes}, {n_methods})"
    return f"lcm({n_classes}, 2 x {n_methods})"


def default_real_questions(n_methods: int, n_classes: int = MNIST_N_CLASSES) -> int:
    """The smallest valid number of real questions that is at least 20 (20 for MNIST and the paper's four)."""
    block = real_question_block(n_methods, n_classes)
    return block * math.ceil(MIN_DEFAULT_REAL_QUESTIONS / block)


def valid_real_questions(n_methods: int, n_classes: int = MNIST_N_CLASSES) -> range:
    """Every number of real questions a study of ``n_methods`` methods of ``n_classes`` classes may have:
    the multiples of :func:`real_question_block` up to ``MAX_REAL_QUESTIONS``."""
    block = real_question_block(n_methods, n_classes)
    return range(block, MAX_REAL_QUESTIONS + 1, block)


def parse_methods(text: str) -> tuple[str, ...]:
    """``"normlime,lime,ig"`` as a tuple of names (spaces ignored; checked by :func:`check_methods`)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def check_method_names(methods: Sequence[str]) -> tuple[str, ...]:
    """``methods`` if they can be a study's (2 to 6 different registered names); else :class:`BadStudyInput`."""
    methods = tuple(methods)
    if not MIN_OPTIONS <= len(methods) <= MAX_OPTIONS:
        raise BadStudyInput(
            f"{len(methods)} methods ({', '.join(methods) or 'none'}): a study compares {MIN_OPTIONS} to {MAX_OPTIONS}",
            "methods",
        )
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise BadStudyInput(f"method(s) {', '.join(repeated)} named twice: give each method once", "methods")
    unknown = [m for m in methods if m not in MethodName.values]
    if unknown:
        raise BadStudyInput(
            f"unknown method(s) {', '.join(unknown)} (known: {', '.join(MethodName.values)})", "methods"
        )
    return methods


def check_methods(explanation_set: ExplanationSet, methods: Sequence[str]) -> tuple[str, ...]:
    """``methods`` as a study's methods, or :class:`BadStudyInput` saying in one line what is wrong
    (see :func:`check_method_names`; the explanation set must also hold their maps of every class)."""
    methods = check_method_names(methods)
    have = set(
        ClassMap.objects.filter(explanation_set=explanation_set, method__in=methods).values_list("method", "digit")
    )
    missing = [
        f"{method} {digit}"
        for method in methods
        for digit in range(explanation_set.n_classes)
        if (method, digit) not in have
    ]
    if missing:
        raise BadStudyInput(
            f"explanation set {explanation_set.name} lacks the maps {', '.join(missing[:5])}"
            + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""),
            "methods",
        )
    return methods


#: A study's participant texts and the details its consent page shows (the fields of ``survey.texts``'s
#: rendering). A study file, the create and texts pages and ``create_study`` all take these names.
TEXT_FIELDS = (
    "researcher",
    "institution",
    "contact_email",
    "payment",
    "duration_minutes",
    "consent_text",
    "instructions_text",
    "question_prompt",
    "completion_message",
    "error_contact",
)


def check_texts(values: dict) -> dict:
    """``values`` (some of :data:`TEXT_FIELDS`) cleaned by the model's own fields and validators, or
    :class:`BadStudyInput` naming the first wrong field in one line."""
    from django.core.exceptions import ValidationError

    cleaned = {}
    for name, value in values.items():
        if name not in TEXT_FIELDS:
            raise BadStudyInput(f"{name}: not a study text (known: {', '.join(TEXT_FIELDS)})", name)
        field = Study._meta.get_field(name)
        try:
            cleaned[name] = field.clean(value, None)
        except ValidationError as exc:
            raise BadStudyInput(f"{name}: {' '.join(exc.messages)}", name) from None
    return cleaned


def check_name_and_slug(name: str, slug: str) -> None:
    """A study's title and URL name as the model's fields accept them, or :class:`BadStudyInput` naming the field."""
    from django.core.exceptions import ValidationError

    for field, value in (("name", name), ("slug", slug)):
        try:
            Study._meta.get_field(field).clean(value, None)
        except ValidationError as exc:
            raise BadStudyInput(f"{field} {value!r}: {' '.join(exc.messages)}", field) from None


def update_texts(study: Study, **values) -> Study:
    """Change ``study``'s texts (see :func:`check_texts`); refused once a real participant has started,
    since what they agreed to and read is part of the record (pilots and simulations do not count)."""
    from ..models import Participant

    cleaned = check_texts(values)
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.participants.filter(kind=Participant.Kind.REAL).exists():
            raise StudyLocked(
                f"study {study.slug} has real participants; its texts are what they read (create a new study to change them)"
            )
        for name, value in cleaned.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*cleaned, "updated_at"])
    logger.info("study %s: texts changed (%s)", study.slug, ", ".join(cleaned) or "none")
    return locked


def create_study(
    explanation_set: ExplanationSet,
    name: str,
    slug: str,
    *,
    methods: Sequence[str] | None = None,
    n_real_questions: int | None = None,
    n_attention_checks: int = DEFAULT_ATTENTION_CHECKS,
    pass_threshold: int = DEFAULT_PASS_THRESHOLD,
    status: str = Study.Status.DRAFT,
    seed: int | None = None,
    pictures: tuple[np.ndarray, np.ndarray] | None = None,
    data: ImageData | str | None = None,
    mnist_dir: str | None = None,
    **platform_settings,
) -> Study:
    """A study of ``explanation_set``: its real questions, attention checks and images, all or nothing.

    ``methods``: the 2 to 6 methods compared, in the order of the canonical slots (default: the
    paper's four); ``n_real_questions`` defaults to :func:`default_real_questions` (20 for four).
    ``pictures`` is (typical, mean) images of each class (n_classes x C*H*W each, see
    :func:`survey.attention.class_pictures`) for the attention checks and the instructions' example;
    by default they come from ``data``, the data set the explanation set was made from (an
    ``ImageData`` or a ``--data`` value; its classes and shape must be the set's), and for a set of
    MNIST from the MNIST training data (the embedded subset unless ``mnist_dir``). The consent text,
    unless given, says how many questions and images there are; the prompt and instructions, unless
    given, name the set's classes by its noun (``texts.default_texts``).
    """
    methods = check_methods(explanation_set, registry.names(paper=True) if methods is None else methods)
    n_classes, noun = explanation_set.n_classes, explanation_set.noun
    block = real_question_block(len(methods), n_classes)
    if n_real_questions is None:
        n_real_questions = default_real_questions(len(methods), n_classes)
    if n_real_questions not in valid_real_questions(len(methods), n_classes):
        of_classes = "" if noun == texts.PAPER_NOUN else f" and {n_classes} {texts.plural(noun)}"
        raise BadStudyInput(
            f"{n_real_questions} real questions: with {len(methods)} methods{of_classes} use a multiple of "
            f"{block} (every {noun} and every method in every position equally often), "
            f"at most {MAX_REAL_QUESTIONS}",
            "n_real_questions",
        )
    if not MIN_ATTENTION_CHECKS <= n_attention_checks <= MAX_ATTENTION_CHECKS:
        raise BadStudyInput(
            f"{n_attention_checks} attention checks: use {MIN_ATTENTION_CHECKS} to {MAX_ATTENTION_CHECKS}",
            "n_attention_checks",
        )
    if not 0 <= pass_threshold <= n_attention_checks:
        raise BadStudyInput(f"pass threshold {pass_threshold}: use 0 to {n_attention_checks}", "pass_threshold")
    check_name_and_slug(name, slug)
    if status not in Study.Status.values:
        raise BadStudyInput(f"unknown status {status!r} (use {', '.join(Study.Status.values)})", "status")
    if platform_settings.get("prolific_failed_code") and not platform_settings.get("prolific_completion_code"):
        raise BadStudyInput("a Prolific failed code needs a Prolific completion code", "prolific_failed_code")
    if slug in RESERVED_SLUGS:
        raise BadStudyInput(f"slug {slug!r} is the name of a research page; choose another", "slug")
    if Study.objects.filter(slug=slug).exists():
        raise BadStudyInput(f"a study with slug {slug!r} already exists", "slug")
    platform_settings.update(check_texts({k: v for k, v in platform_settings.items() if k in TEXT_FIELDS}))
    maps = {
        (m.method, m.digit): m for m in ClassMap.objects.filter(explanation_set=explanation_set, method__in=methods)
    }
    platform_settings.setdefault("consent_text", default_consent(n_real_questions + n_attention_checks, len(methods)))
    platform_settings.setdefault("duration_minutes", estimated_minutes(n_real_questions + n_attention_checks))
    from .. import attention

    example = attention.example_class(n_classes)
    for field, text in texts.default_texts(noun, explanation_set.classes[example], explanation_set.n_classes).items():
        platform_settings.setdefault(field, text)
    pictures = _pictures(explanation_set, pictures, data, mnist_dir)
    seed = secrets.randbits(31) if seed is None else seed
    with transaction.atomic():
        study = Study.objects.create(
            explanation_set=explanation_set,
            name=name,
            slug=slug,
            methods=list(methods),
            layout=explanation_set.layout,
            n_real_questions=n_real_questions,
            n_attention_checks=n_attention_checks,
            pass_threshold=pass_threshold,
            status=status,
            seed=seed,
            **platform_settings,
        )
        _build_items(study, maps, pictures, random.Random(seed))
    logger.info("created study %s of %s from explanation set %s", study.slug, ", ".join(methods), explanation_set.name)
    return study


def _pictures(
    explanation_set: ExplanationSet,
    pictures: tuple[np.ndarray, np.ndarray] | None,
    data: ImageData | str | None,
    mnist_dir: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The (typical, mean) class pictures of :func:`create_study`, checked against the set's layout."""
    from explainers.data import MNIST_SHAPE, layout_of, load_data

    from .. import attention

    layout = explanation_set.layout
    if pictures is None and data is None:
        if layout_of(None)["classes"] != layout["classes"] or tuple(layout["shape"]) != MNIST_SHAPE:
            raise BadStudyInput(
                f"explanation set {explanation_set.name} is of {explanation_set.n_classes} "
                f"{texts.plural(explanation_set.noun)} ({', '.join(explanation_set.classes[:5])}...), not MNIST: "
                "give its data set (--data) for the attention checks' pictures",
                "data",
            )
        return attention.digit_pictures(mnist_dir)
    if pictures is None:
        if isinstance(data, str):
            data = load_data(data, mnist_dir)  # DataError: the caller's one line
        theirs = {"classes": list(data.classes), "shape": list(data.shape)}
        ours = {"classes": list(layout["classes"]), "shape": list(layout["shape"])}
        for key in ("classes", "shape"):
            if theirs[key] != ours[key]:
                raise BadStudyInput(
                    f"data set {data.source}: its {key} {_short(theirs[key])} are not explanation set "
                    f"{explanation_set.name}'s {_short(ours[key])}",
                    "data",
                )
        return attention.class_pictures(data)
    typical, means = pictures
    expected = (explanation_set.n_classes, math.prod(layout["shape"]))
    if typical.shape != expected or means.shape != expected:
        raise BadStudyInput(
            f"pictures of shape {typical.shape} and {means.shape}: explanation set {explanation_set.name} needs "
            f"{expected[0]} x {expected[1]} (a picture per class)",
            "data",
        )
    return typical, means


def _short(values: list) -> str:
    shown = ", ".join(str(v) for v in values[:5])
    return f"[{shown}{', ...' if len(values) > 5 else ''}]"


def _build_items(study: Study, maps: dict, pictures: tuple[np.ndarray, np.ndarray], rng: random.Random) -> None:
    from .. import attention

    typical, means = pictures
    images = {
        key: StudyImage.objects.create(
            study=study,
            role=StudyImage.Role.MAP,
            method=key[0],
            digit=key[1],
            class_map=cm,
            png=bytes(cm.png),
            description=f"{key[0]} map of digit {key[1]}",
        )
        for key, cm in maps.items()
    }
    repeats = study.n_real_questions // study.n_classes
    checks = attention.plan_checks(study.n_attention_checks, rng, study.n_options, study.n_classes)
    shape = tuple(study.layout["shape"])
    size = attention.png_size(bytes(next(iter(maps.values())).png)) if maps else None
    planned = [
        (number, Item.Kind.REAL, (number - 1) // repeats, None) for number in range(1, study.n_real_questions + 1)
    ]
    planned += [
        (study.n_real_questions + offset + 1, Item.Kind.ATTENTION, plan.digit, plan)
        for offset, plan in enumerate(checks)
    ]
    # Rows are written in a random order: item ids reach participants' pages (the answer form),
    # and ids in numbering order would put every attention check after the real questions.
    rng.shuffle(planned)
    check_images: dict[int, StudyImage] = {}

    def picture(digit: int) -> StudyImage:
        if digit not in check_images:
            check_images[digit] = StudyImage.objects.create(
                study=study,
                role=StudyImage.Role.CHECK,
                digit=digit,
                png=attention.class_png(typical[digit], shape, size),
                description=f"typical handwritten {digit}"
                if study.noun == texts.PAPER_NOUN
                else f"typical {study.class_name(digit)}",
            )
        return check_images[digit]

    options = []
    for number, kind, digit, plan in planned:
        item = Item.objects.create(study=study, number=number, kind=kind, digit=digit)
        if plan is None:
            options += [
                ItemOption(item=item, slot=slot, method=method, image=images[(method, digit)])
                for slot, method in enumerate(study.methods)
            ]
        else:
            shown = [(picture(plan.digit), True), *((picture(d), False) for d in plan.distractors)]
            options += [
                ItemOption(item=item, slot=slot, image=image, is_correct=ok) for slot, (image, ok) in enumerate(shown)
            ]
    ItemOption.objects.bulk_create(options)
    StudyImage.objects.create(
        study=study,
        role=StudyImage.Role.EXAMPLE,
        digit=attention.example_class(study.n_classes),
        png=attention.example_png(typical, means, attention.example_class(study.n_classes), shape, size),
        description="instructions example (Fig. 3)",
    )


def create_demo_study(explanation_set: ExplanationSet, pictures: tuple[np.ndarray, np.ndarray] | None = None) -> Study:
    """The open study ``demo`` of ``explanation_set`` (created once; later calls return it unchanged)."""
    existing = Study.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        if existing.explanation_set_id != explanation_set.pk:
            logger.warning("demo study already exists for explanation set %s; keeping it", existing.explanation_set)
        return existing
    try:
        return create_study(
            explanation_set, name="Demo study", slug=DEMO_SLUG, status=Study.Status.OPEN, seed=0, pictures=pictures
        )
    except BadStudyInput:
        existing = Study.objects.filter(slug=DEMO_SLUG).first()
        if existing is None:  # a real problem (missing maps), not a concurrent creation
            raise
        return existing


def set_study_status(study: Study, status: str) -> Study:
    """Make ``study`` a draft, open or closed (only an open study takes participants); an unknown
    status is :class:`BadStudyInput`."""
    if status not in Study.Status.values:
        raise BadStudyInput(f"unknown status {status!r} (use {', '.join(Study.Status.values)})")
    Study.objects.filter(pk=study.pk).update(status=status, updated_at=timezone.now())
    study.refresh_from_db()
    logger.info("study %s is now %s", study.slug, status)
    return study


def replace_attention_check(
    study: Study, number: int, digit: int, correct_picture: bytes, distractor_pictures: Sequence[bytes]
) -> Item:
    """Replace attention check ``number``: a question about ``digit`` with the given pictures.

    Pictures are any image files (PNG, JPEG...), brought to the study's image size and drawn as
    its check pictures are (a grey image in the maps' colours, a colour image as itself), so all
    the options look alike except for what they show; a study of k methods needs k - 1
    distractors. Refused once anyone has started.
    """
    if len(distractor_pictures) != study.n_options - 1:
        raise BadStudyInput(f"give {study.n_options - 1} distractor pictures, not {len(distractor_pictures)}")
    if not 0 <= digit < study.n_classes:
        raise BadStudyInput(f"{study.noun} {digit}: use 0 to {study.n_classes - 1}")
    from .. import attention

    shape = tuple(study.layout["shape"])
    first_map = study.images.filter(role=StudyImage.Role.MAP).first()
    size = attention.png_size(bytes(first_map.png)) if first_map else None
    try:
        pngs = [
            attention.class_png(attention.picture_values(data, shape), shape, size)
            for data in (correct_picture, *distractor_pictures)
        ]
    except ValueError as exc:
        raise BadStudyInput(f"picture: {exc}") from None
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.participants.exists():
            raise StudyLocked(f"study {study.slug} has participants; its questions are what they were shown")
        item = Item.objects.filter(study=locked, number=number, kind=Item.Kind.ATTENTION).first()
        if item is None:
            raise BadStudyInput(f"study {study.slug} has no attention check number {number}")
        old_images = set(item.options.values_list("image_id", flat=True))
        item.options.all().delete()
        item.digit = digit
        item.save(update_fields=["digit"])
        for slot, png in enumerate(pngs):
            image = StudyImage.objects.create(
                study=locked,
                role=StudyImage.Role.CHECK,
                digit=digit if slot == 0 else None,
                png=png,
                description="researcher's correct picture" if slot == 0 else "researcher's distractor",
            )
            ItemOption.objects.create(item=item, slot=slot, image=image, is_correct=slot == 0)
        StudyImage.objects.filter(pk__in=old_images, options__isnull=True).delete()
    logger.info("replaced attention check %s of study %s (digit %s)", number, study.slug, digit)
    return item
