"""Forms: every value a participant's browser sends is checked here before a service sees it."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from explainers.methods import registry
from explainers.models import ExplanationSet

from .models import MAX_OPTIONS, MAX_REAL_QUESTIONS, MIN_OPTIONS, Participant, Study
from .platforms import mturk
from .rules import DEFAULT_ATTENTION_CHECKS, DEFAULT_PASS_THRESHOLD, MAX_ATTENTION_CHECKS, MIN_ATTENTION_CHECKS
from .services import (
    DEFAULT_STUDY_NAME,
    MNIST_N_CLASSES,
    TEXT_FIELDS,
    EntryParams,
    default_real_questions,
    deletable_kinds,
    valid_real_questions,
)

# MTurk and Prolific ids are letters and digits; anything else is a damaged or forged link.
_id = RegexValidator(r"^[A-Za-z0-9_-]{1,64}$", "is not a valid id")


def _id_field() -> forms.CharField:
    return forms.CharField(required=False, max_length=64, validators=[_id])


class EntryForm(forms.Form):
    """The platform parameters of a study link: MTurk's, Prolific's or none (a direct link)."""

    assignmentId = _id_field()
    hitId = _id_field()
    workerId = _id_field()
    turkSubmitTo = forms.URLField(required=False, max_length=200, assume_scheme="https")
    PROLIFIC_PID = _id_field()
    STUDY_ID = _id_field()
    SESSION_ID = _id_field()

    MTURK_FIELDS = ("assignmentId", "hitId", "workerId", "turkSubmitTo")
    PROLIFIC_FIELDS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        mturk_given = [name for name in self.MTURK_FIELDS if data.get(name)]
        prolific_given = [name for name in self.PROLIFIC_FIELDS if data.get(name)]
        if mturk_given and prolific_given:
            raise forms.ValidationError("The link mixes Mechanical Turk and Prolific parameters.")
        if mturk_given:
            if data.get("assignmentId") == mturk.PREVIEW_ASSIGNMENT_ID:
                if not data.get("hitId"):
                    raise forms.ValidationError("A Mechanical Turk preview link needs hitId.")
                return data
            missing = [name for name in self.MTURK_FIELDS if not data.get(name)]
            if missing:
                raise forms.ValidationError(f"The Mechanical Turk link lacks {', '.join(missing)}.")
            if not mturk.is_allowed_submit_target(data["turkSubmitTo"]):
                raise forms.ValidationError("turkSubmitTo is not a Mechanical Turk site.")
        if prolific_given and not data.get("PROLIFIC_PID"):
            raise forms.ValidationError("The Prolific link lacks PROLIFIC_PID.")
        return data

    @property
    def is_preview(self) -> bool:
        return self.cleaned_data.get("assignmentId") == mturk.PREVIEW_ASSIGNMENT_ID

    def params(self) -> EntryParams:
        data = self.cleaned_data
        if data.get("assignmentId"):
            return EntryParams(
                platform=Participant.Platform.MTURK,
                worker_id=data.get("workerId", ""),
                assignment_id=data["assignmentId"],
                hit_id=data.get("hitId", ""),
                turk_submit_to=data.get("turkSubmitTo", "").rstrip("/"),
            )
        if data.get("PROLIFIC_PID"):
            return EntryParams(
                platform=Participant.Platform.PROLIFIC,
                prolific_pid=data["PROLIFIC_PID"],
                prolific_study_id=data.get("STUDY_ID", ""),
                prolific_session_id=data.get("SESSION_ID", ""),
            )
        return EntryParams(platform=Participant.Platform.DIRECT)

    def hidden_values(self) -> dict[str, str]:
        """The parameters to carry, as hidden fields, from the consent page to the start."""
        return {name: value for name, value in self.cleaned_data.items() if value and name in self.base_fields}


class ConsentForm(EntryForm):
    consent = forms.BooleanField(
        required=True, error_messages={"required": "Please tick the box to confirm that you agree to take part."}
    )


class AnswerForm(forms.Form):
    """A choice of an on-screen position: up to the largest k here, the study's own k in the service."""

    item = forms.IntegerField(min_value=1)
    choice = forms.TypedChoiceField(
        choices=[(str(i), str(i)) for i in range(1, MAX_OPTIONS + 1)],
        coerce=int,
        error_messages={
            "required": "Please choose one of the images.",
            "invalid_choice": "Please choose one of the images.",
        },
    )

    @property
    def only_choice_missing(self) -> bool:
        return set(self.errors) == {"choice"} and not self.data.get("choice")


class AttentionCheckForm(forms.Form):
    """A researcher's replacement of one attention check (admin): the correct picture and k - 1 distractors."""

    digit = forms.IntegerField(min_value=0, help_text="The class asked about, by its label (MNIST's digit).")
    correct = forms.FileField(
        help_text="A picture that plainly shows the class (any image; drawn at the study's image size)."
    )

    def __init__(self, *args, n_distractors: int = 3, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.distractor_names(n_distractors):
            self.fields[name] = forms.FileField()

    @staticmethod
    def distractor_names(n_distractors: int) -> list[str]:
        return [f"distractor_{i}" for i in range(1, n_distractors + 1)]


class DeleteParticipantsForm(forms.Form):
    """The monitor's deletion of pilot or simulated participants: which kinds, and whether it is confirmed."""

    kinds = forms.MultipleChoiceField(
        choices=[(kind, Participant.Kind(kind).label) for kind in deletable_kinds()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "%(value)s participants cannot be deleted (only pilot and simulated ones)."},
    )
    confirm = forms.BooleanField(required=False)


class StudyTextsForm(forms.ModelForm):
    """What participants read (``survey.services.TEXT_FIELDS``), checked by the model's own fields and validators."""

    class Meta:
        model = Study
        fields = TEXT_FIELDS


def real_questions_help() -> str:
    """The rule for the number of real questions and, for each number of methods, the numbers it allows."""

    def allowed(k: int) -> str:
        numbers = valid_real_questions(k)
        shown = ", ".join(str(n) for n in numbers[:3])
        return f"{k} methods: {shown}, … {numbers[-1]} (blank: {default_real_questions(k)})"

    return (
        f"A multiple of lcm({MNIST_N_CLASSES}, k) for k methods, at most {MAX_REAL_QUESTIONS}: every digit and every method in "
        "every position equally often. " + "; ".join(allowed(k) for k in range(MIN_OPTIONS, MAX_OPTIONS + 1)) + ". "
        "For a data set of other classes: a multiple of lcm(classes, k), of lcm(classes, 2k) for odd k and an odd "
        "number of classes."
    )


def _model_field(name: str, **kwargs) -> forms.Field:
    """The form field of ``Study.<name>`` (its label, length and format checks), with ``kwargs`` changed."""
    return Study._meta.get_field(name).formfield(**kwargs)


class StudyCreateForm(forms.Form):
    """A new study (the create page): what ``services.create_study`` takes.

    Only the kinds of values are checked here (a number, a slug, an e-mail address); the study's
    rules (methods, question counts, codes, texts) are the service's, so the page refuses the same
    mistakes as the ``create_study`` command with the same words. The participant texts are
    ``StudyTextsForm``'s fields, optional: a blank text is the default.
    """

    explanation_set = forms.ModelChoiceField(
        queryset=ExplanationSet.objects.all(), to_field_name="name", help_text="Where the maps come from."
    )
    name = _model_field("name", initial=DEFAULT_STUDY_NAME, help_text="The title participants see.")
    slug = _model_field("slug", help_text="The study's name in its URLs (letters, digits, hyphens).")
    methods = forms.MultipleChoiceField(
        choices=lambda: [(name, f"{registry.label(name)} ({name})") for name in registry.names()],
        initial=lambda: list(registry.names(paper=True)),
        required=False,  # none chosen: the service's words, like any other wrong number of methods
        widget=forms.CheckboxSelectMultiple,
        help_text=f"The {MIN_OPTIONS} to {MAX_OPTIONS} methods compared (default: the paper's four).",
    )
    n_real_questions = forms.IntegerField(label="Real questions", required=False, help_text=real_questions_help())
    n_attention_checks = forms.IntegerField(
        label="Attention checks",
        initial=DEFAULT_ATTENTION_CHECKS,
        help_text=f"{MIN_ATTENTION_CHECKS} to {MAX_ATTENTION_CHECKS}.",
    )
    pass_threshold = forms.IntegerField(
        initial=DEFAULT_PASS_THRESHOLD, help_text="Attention checks a participant must pass for their answers to count."
    )
    seed = forms.IntegerField(required=False, help_text="Seed of the attention checks (blank: random).")
    status = forms.ChoiceField(
        choices=[(status, Study.Status(status).label) for status in (Study.Status.DRAFT, Study.Status.OPEN)],
        initial=Study.Status.DRAFT,
        widget=forms.RadioSelect,
        help_text="Only an open study takes participants; open or close it on its monitor later.",
    )
    accept_mturk = _model_field("accept_mturk", label="Accept Mechanical Turk participants")
    accept_direct = _model_field("accept_direct", label="Accept direct-link participants")
    prolific_completion_code = _model_field(
        "prolific_completion_code", help_text="Accepts Prolific participants when given."
    )
    prolific_failed_code = _model_field("prolific_failed_code")

    #: The page's sections and their fields (the texts come last, see :meth:`fieldsets`).
    SECTIONS = (
        ("Study", ("explanation_set", "name", "slug", "status")),
        ("Questions", ("methods", "n_real_questions", "n_attention_checks", "pass_threshold", "seed")),
        ("Platforms", ("accept_mturk", "accept_direct", "prolific_completion_code", "prolific_failed_code")),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for name, field in forms.fields_for_model(Study, fields=StudyTextsForm._meta.fields).items():
            # Blank is the default, which for the consent text and the duration depends on the study's length.
            field.required, field.initial, field.show_hidden_initial = False, None, False
            self.fields[name] = field

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The bound fields by section, the participant texts last."""
        sections = [*self.SECTIONS, ("Participant texts", StudyTextsForm._meta.fields)]
        return [(title, [self[name] for name in names]) for title, names in sections]

    def create_arguments(self) -> dict:
        """The arguments of ``services.create_study`` (pictures left to it)."""
        data = self.cleaned_data
        code = data["prolific_completion_code"]
        texts = {name: data[name] for name in TEXT_FIELDS if data[name] not in ("", None)}
        return {
            "explanation_set": data["explanation_set"],
            "name": data["name"],
            "slug": data["slug"],
            "methods": data["methods"],
            "n_real_questions": data["n_real_questions"],
            "n_attention_checks": data["n_attention_checks"],
            "pass_threshold": data["pass_threshold"],
            "status": data["status"],
            "seed": data["seed"],
            "accept_mturk": data["accept_mturk"],
            "accept_direct": data["accept_direct"],
            "accept_prolific": bool(code),
            "prolific_completion_code": code,
            "prolific_failed_code": data["prolific_failed_code"],
            **texts,
        }
