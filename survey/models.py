"""The human study: studies, their questions, each participant's sheet and answers.

What a participant saw is stored, never recomputed: the sheet (question order and the
option shown at each position) is written once, when the participant starts, and an answer
points at the option that sat at the chosen position. The images themselves are copied into
the study (``StudyImage``) so that regenerating an explanation set cannot change what
earlier participants were shown.
"""

from __future__ import annotations

import secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from explainers.methods import registry
from explainers.models import HasLayout, MethodName, mnist_layout

from . import texts
from .rules import DEFAULT_ATTENTION_CHECKS, DEFAULT_PASS_THRESHOLD, MAX_ATTENTION_CHECKS
from .texts import in_words

# A study compares 2 to 6 methods: each real question shows one map per method (its k options).
MIN_OPTIONS = 2
MAX_OPTIONS = 6
# Every class equally often and every method equally often in every position: the number of real
# questions is a multiple of lcm(classes, rows of the Latin square) (``services.studies.real_question_block``).
MAX_QUESTIONS = 200
MAX_REAL_QUESTIONS = MAX_QUESTIONS - MAX_ATTENTION_CHECKS  # room for the most attention checks a study may have
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are typed by hand


CONSENT_TEMPLATE = (
    "This is a research study about how people judge pictures that explain a computer model's "
    "decisions. You will see {n_questions} sets of {n_options} images and choose, in each set, the one you find "
    "most helpful. It takes about {minutes} minutes. Taking part is voluntary and you may stop at any "
    "time. We record your answers, the time you took for each and your browser's user agent; "
    "we do not ask for your name or contact details. The anonymised answers may be published."
)


def paper_methods() -> list[str]:
    """The paper's four methods, in its order: the methods of a study unless it names others."""
    return list(registry.names(paper=True))


def estimated_minutes(n_questions: int) -> int:
    """Minutes a participant needs, to the nearest 5: the paper's 25 questions take about 10."""
    return max(5, round(n_questions * 10 / 25 / 5) * 5)


def default_consent(n_questions: int = 25, n_options: int = 4) -> str:
    """The consent text of a study of ``n_questions`` sets of ``n_options`` images (25 and 4: the paper's)."""
    return CONSENT_TEMPLATE.format(
        n_questions=n_questions, n_options=in_words(n_options), minutes=estimated_minutes(n_questions)
    )


DEFAULT_CONSENT = default_consent()


def new_code(length: int = 10) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_image_key() -> str:
    """An opaque picture key: hex only, so it can never spell a method's name."""
    return secrets.token_hex(12)


# The choices that check constraints rely on live at module level, so that the models' Meta can
# build the constraints from them (a nested Meta cannot see its model's class body); each model
# names its own as before (Study.Status, StudyImage.Role, Item.Kind, Participant.Platform and .Status).


class StudyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Study(HasLayout, models.Model):
    """A study; its ``layout`` is a copy of its explanation set's (``HasLayout`` reads the classes from
    it), so participants' pages need no query of the set."""

    Status = StudyStatus

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    explanation_set = models.ForeignKey("explainers.ExplanationSet", on_delete=models.PROTECT, related_name="studies")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    methods = models.JSONField(
        default=paper_methods,
        help_text="The methods compared (2 to 6 registry names); slot i of a real question holds methods[i].",
    )
    n_real_questions = models.PositiveSmallIntegerField(
        default=20,
        help_text="A multiple of lcm(number of classes, number of methods) (20 for MNIST and four methods): every "
        "class equally often, every method in every position equally often.",
    )
    layout = models.JSONField(
        default=mnist_layout,
        help_text="The explanation set's layout when the study was made (classes in label order, image shape, "
        "noun): what participants were told the classes are called.",
    )
    n_attention_checks = models.PositiveSmallIntegerField(
        default=DEFAULT_ATTENTION_CHECKS, validators=[MaxValueValidator(MAX_ATTENTION_CHECKS)]
    )
    pass_threshold = models.PositiveSmallIntegerField(
        default=DEFAULT_PASS_THRESHOLD, help_text="Attention checks a participant must pass for their answers to count."
    )
    seed = models.BigIntegerField(default=0, help_text="Seed that built the attention checks.")
    # What participants read (survey.texts: escaped, with placeholders; the paper's wording by default).
    consent_text = models.TextField(default=DEFAULT_CONSENT, validators=[texts.validate])
    researcher = models.CharField(
        max_length=200, blank=True, help_text="Who runs the study (shown on the consent page)."
    )
    institution = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True, help_text="Shown on the consent page and on every error page.")
    payment = models.CharField(max_length=100, blank=True, help_text="What a participant is paid, e.g. '£1.50'.")
    duration_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text="Expected minutes (the consent page's {minutes})."
    )
    instructions_text = models.TextField(default=texts.DEFAULT_INSTRUCTIONS, validators=[texts.validate])
    question_prompt = models.TextField(default=texts.DEFAULT_PROMPT, validators=[texts.validate])
    completion_message = models.TextField(default=texts.DEFAULT_COMPLETION, validators=[texts.validate])
    error_contact = models.TextField(default=texts.DEFAULT_ERROR_CONTACT, validators=[texts.validate])
    # Platforms: which ways in are accepted, and what each is given at the end.
    accept_mturk = models.BooleanField(default=True)
    accept_prolific = models.BooleanField(default=False)
    accept_direct = models.BooleanField(default=True)
    prolific_completion_code = models.CharField(max_length=40, blank=True)
    prolific_failed_code = models.CharField(
        max_length=40, blank=True, help_text="Optional code for participants who failed the attention checks."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=StudyStatus.values), name="study_known_status"),
            models.CheckConstraint(
                # At least one question per method (the rule's block is a multiple of k >= MIN_OPTIONS).
                condition=Q(n_real_questions__gte=MIN_OPTIONS, n_real_questions__lte=MAX_REAL_QUESTIONS),
                name="study_real_questions_in_range",
            ),
            models.CheckConstraint(
                condition=Q(n_attention_checks__lte=MAX_ATTENTION_CHECKS),
                name=f"study_at_most_{MAX_ATTENTION_CHECKS}_checks",
            ),
            models.CheckConstraint(
                condition=Q(pass_threshold__lte=F("n_attention_checks")), name="study_threshold_within_checks"
            ),
            models.CheckConstraint(
                condition=Q(accept_prolific=False) | ~Q(prolific_completion_code=""),
                name="study_prolific_needs_completion_code",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def n_questions(self) -> int:
        return self.n_real_questions + self.n_attention_checks

    @property
    def n_options(self) -> int:
        """k: the options of every question (one map per method in a real question)."""
        return len(self.methods)

    @property
    def n_options_in_words(self) -> str:
        return in_words(self.n_options)

    @property
    def label_noun(self) -> str:
        """How a question introduces its class ("the number 2" for MNIST, see ``texts.label_noun``)."""
        return texts.label_noun(self.noun)

    def class_name(self, digit: int) -> str:
        """The name of class ``digit`` (Item.digit, ClassMap.digit): MNIST's are "0" to "9"."""
        return self.layout["classes"][digit]

    def text_values(self, label: int | None = None) -> dict[str, object]:
        """The values of the texts' placeholders (``survey.texts``); ``label`` is a question's class
        (its number: ``{label}`` reads its name)."""
        values: dict[str, object] = {
            "options": self.n_options_in_words,
            "others": in_words(self.n_classes - 1),
            "questions": self.n_questions,
            "minutes": self.duration_minutes,
        }
        if label is not None:
            values["label"] = self.class_name(int(label))
        return values

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def get_absolute_url(self) -> str:
        return reverse("survey:landing", args=[self.slug])

    def get_monitor_url(self) -> str:
        return reverse("survey:monitor", args=[self.slug])


class ImageRole(models.TextChoices):
    MAP = "map", "Class map"
    CHECK = "check", "Attention-check image"
    EXAMPLE = "example", "Instructions example"


class StudyImage(models.Model):
    """One picture a participant can be shown, copied into the study (never regenerated)."""

    Role = ImageRole

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="images")
    key = models.CharField(max_length=32, unique=True, default=new_image_key, editable=False)
    role = models.CharField(max_length=10, choices=Role.choices)
    method = models.CharField(max_length=20, choices=MethodName.choices, blank=True)
    digit = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Class shown (its label; MNIST's digit; unknown for uploads)."
    )
    description = models.CharField(max_length=200, blank=True)
    class_map = models.ForeignKey(
        "explainers.ClassMap",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The map this picture was copied from (provenance only).",
    )
    png = models.BinaryField()

    class Meta:
        ordering = ["study", "role", "digit", "method"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(role=ImageRole.MAP) | Q(digit__isnull=False), name="image_maps_have_a_digit"
            ),
            models.CheckConstraint(condition=Q(role__in=ImageRole.values), name="image_known_role"),
            models.CheckConstraint(
                condition=Q(role=ImageRole.MAP, method__in=MethodName.values) | (~Q(role=ImageRole.MAP) & Q(method="")),
                name="image_method_only_on_maps",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} {self.role} {self.method or '-'} {self.digit}"


class ItemKind(models.TextChoices):
    REAL = "real", "Real question"
    ATTENTION = "attention", "Attention check"


class Item(models.Model):
    """A question of a study: a digit and k options (the methods' maps, or a check's images)."""

    Kind = ItemKind

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    number = models.PositiveSmallIntegerField(help_text="1-based, fixed order within the study (not the order shown).")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    digit = models.PositiveSmallIntegerField(help_text="The class asked about (its label; MNIST's digit).")

    class Meta:
        ordering = ["study", "number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "number"], name="item_number_unique_in_study"),
            models.CheckConstraint(condition=Q(number__gte=1, number__lte=MAX_QUESTIONS), name="item_number_in_range"),
            models.CheckConstraint(condition=Q(kind__in=ItemKind.values), name="item_known_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} #{self.number} ({self.kind}, digit {self.digit})"

    @property
    def is_attention(self) -> bool:
        return self.kind == self.Kind.ATTENTION


class ItemOption(models.Model):
    """One of an item's k options, in a fixed canonical slot (0 to k-1); positions are per sheet.

    Pages carry the picture keyed by the option's own ``key``, never the image's
    (``survey.pictures``): one image (a method's map of a digit, a check's twin distractors)
    sits in several options, and shared bytes would let a page tell the options, and so the
    methods or a check, apart.
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="options")
    slot = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=32, unique=True, default=new_image_key, editable=False)
    image = models.ForeignKey(StudyImage, on_delete=models.PROTECT, related_name="options")
    method = models.CharField(max_length=20, choices=MethodName.choices, blank=True, help_text="Real questions only.")
    is_correct = models.BooleanField(default=False, help_text="Attention checks only: the one acceptable answer.")

    class Meta:
        ordering = ["item", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="option_slot_unique_in_item"),
            models.UniqueConstraint(
                fields=["item", "method"], condition=~Q(method=""), name="option_method_unique_in_item"
            ),
            models.UniqueConstraint(fields=["item"], condition=Q(is_correct=True), name="option_one_correct_per_item"),
            models.CheckConstraint(condition=Q(slot__lt=MAX_OPTIONS), name="option_slot_in_range"),
            models.CheckConstraint(
                condition=Q(method="") | Q(is_correct=False), name="option_method_options_have_no_correct_answer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} slot {self.slot} {self.method or ('correct' if self.is_correct else 'distractor')}"


class ParticipantPlatform(models.TextChoices):
    MTURK = "mturk", "Amazon Mechanical Turk"
    PROLIFIC = "prolific", "Prolific"
    DIRECT = "direct", "Direct link"


class ParticipantKind(models.TextChoices):
    """Who a participant is: only ``real`` ones count in the analysis unless it is told otherwise."""

    REAL = "real", "Real participant"
    PILOT = "pilot", "Pilot (a researcher's preview)"
    SIMULATED = "simulated", "Simulated"


class ParticipantStatus(models.TextChoices):
    STARTED = "started", "Started"
    FINISHED = "finished", "Finished"


class Participant(models.Model):
    Platform = ParticipantPlatform
    Status = ParticipantStatus
    Kind = ParticipantKind

    class Review(models.TextChoices):
        PENDING = "pending", "Not reviewed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participants")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    platform = models.CharField(max_length=10, choices=Platform.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    # Amazon Mechanical Turk
    worker_id = models.CharField(max_length=64, blank=True)
    assignment_id = models.CharField(max_length=64, blank=True)
    hit_id = models.CharField(max_length=64, blank=True)
    turk_submit_to = models.URLField(max_length=200, blank=True)
    # Prolific
    prolific_pid = models.CharField(max_length=64, blank=True)
    prolific_study_id = models.CharField(max_length=64, blank=True)
    prolific_session_id = models.CharField(max_length=64, blank=True)

    completion_code = models.CharField(max_length=16, unique=True, default=new_code, editable=False)
    sheet_seed = models.BigIntegerField(help_text="Seed the sheet was drawn with (the sheet itself is stored).")
    user_agent = models.CharField(max_length=400, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    checks_passed = models.PositiveSmallIntegerField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True, help_text="Passed at least the study's threshold of checks.")
    review_status = models.CharField(max_length=10, choices=Review.choices, default=Review.PENDING)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Kept so that importing the same file twice is refused, whatever the platform (a direct
    # link's participant has no platform id to recognise them by).
    imported_id = models.CharField(
        max_length=100,
        blank=True,
        editable=False,
        help_text="The participant's id in the file they were imported from (empty: took the survey here).",
    )

    class Meta:
        ordering = ["study", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "worker_id"],
                condition=Q(platform=ParticipantPlatform.MTURK),
                name="one_participation_per_mturk_worker",
            ),
            models.UniqueConstraint(
                fields=["assignment_id"],
                condition=Q(platform=ParticipantPlatform.MTURK),
                name="one_participant_per_mturk_assignment",
            ),
            models.UniqueConstraint(
                fields=["study", "prolific_pid"],
                condition=Q(platform=ParticipantPlatform.PROLIFIC),
                name="one_participation_per_prolific_participant",
            ),
            models.UniqueConstraint(
                fields=["study", "imported_id"], condition=~Q(imported_id=""), name="imported_id_unique_in_study"
            ),
            models.CheckConstraint(
                condition=Q(platform__in=ParticipantPlatform.values), name="participant_known_platform"
            ),
            models.CheckConstraint(condition=Q(status__in=ParticipantStatus.values), name="participant_known_status"),
            models.CheckConstraint(condition=Q(kind__in=ParticipantKind.values), name="participant_known_kind"),
            models.CheckConstraint(
                condition=~Q(platform=ParticipantPlatform.MTURK)
                | (~Q(worker_id="") & ~Q(assignment_id="") & ~Q(hit_id="")),
                name="mturk_participant_has_ids",
            ),
            models.CheckConstraint(
                condition=~Q(platform=ParticipantPlatform.PROLIFIC) | ~Q(prolific_pid=""),
                name="prolific_participant_has_pid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=ParticipantStatus.FINISHED) & Q(finished_at__isnull=False) & Q(passed__isnull=False)
                )
                | (Q(status=ParticipantStatus.STARTED) & Q(finished_at__isnull=True) & Q(passed__isnull=True)),
                name="participant_finished_iff_finish_recorded",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="participant_finishes_after_start",
            ),
        ]
        indexes = [models.Index(fields=["study", "status"], name="participant_study_status")]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"

    @property
    def external_id(self) -> str:
        if self.platform == self.Platform.MTURK:
            return self.worker_id
        if self.platform == self.Platform.PROLIFIC:
            return self.prolific_pid
        return str(self.public_id)

    @property
    def is_finished(self) -> bool:
        return self.status == self.Status.FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SheetEntry(models.Model):
    """The item a participant sees at one position of their sheet (decided at start)."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="sheet")
    position = models.PositiveSmallIntegerField(help_text="1-based place in this participant's order.")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    shown_at = models.DateTimeField(null=True, blank=True, help_text="First time the question was shown.")

    class Meta:
        ordering = ["participant", "position"]
        verbose_name_plural = "sheet entries"
        constraints = [
            models.UniqueConstraint(fields=["participant", "position"], name="sheet_position_unique"),
            models.UniqueConstraint(fields=["participant", "item"], name="sheet_item_once"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=MAX_QUESTIONS), name="sheet_position_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} #{self.position}: item {self.item_id}"


class ShownOption(models.Model):
    """Which option sat at which on-screen position (1 to k) of a sheet entry."""

    entry = models.ForeignKey(SheetEntry, on_delete=models.CASCADE, related_name="shown")
    position = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_OPTIONS)])
    option = models.ForeignKey(ItemOption, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["entry", "position"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "position"], name="shown_position_unique"),
            models.UniqueConstraint(fields=["entry", "option"], name="shown_option_once"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=MAX_OPTIONS), name="shown_position_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry} position {self.position}"


class Answer(models.Model):
    """A participant's choice for one item: the first one counts, a repeat changes nothing."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="answers")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="answers")
    entry = models.OneToOneField(SheetEntry, on_delete=models.PROTECT, related_name="answer")
    chosen = models.ForeignKey(ShownOption, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(help_text="On-screen position chosen (1 to k).")
    method = models.CharField(max_length=20, choices=MethodName.choices, blank=True, help_text="Real questions only.")
    correct = models.BooleanField(null=True, blank=True, help_text="Attention checks only.")
    shown_at = models.DateTimeField()
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["participant", "entry__position"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "item"], name="one_answer_per_participant_and_item"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=MAX_OPTIONS), name="answer_position_in_range"
            ),
            models.CheckConstraint(condition=Q(answered_at__gte=F("shown_at")), name="answer_after_shown"),
            models.CheckConstraint(
                condition=(~Q(method="") & Q(correct__isnull=True)) | (Q(method="") & Q(correct__isnull=False)),
                name="answer_is_a_vote_or_a_check",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} item {self.item_id}: position {self.position}"

    @property
    def response_ms(self) -> int:
        return round((self.answered_at - self.shown_at).total_seconds() * 1000)


class MTurkHIT(models.Model):
    """A HIT created for a study, so retries and syncing know which HITs are ours."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="hits")
    hit_id = models.CharField(max_length=64, unique=True)
    hit_type_id = models.CharField(max_length=64, blank=True)
    sandbox = models.BooleanField()
    unique_request_token = models.CharField(max_length=64, unique=True)
    max_assignments = models.PositiveIntegerField()
    reward = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "created_at"]
        verbose_name = "MTurk HIT"

    def __str__(self) -> str:
        return f"{self.hit_id} ({'sandbox' if self.sandbox else 'live'})"
