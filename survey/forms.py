"""Forms: every value a participant's browser sends is checked here before a service sees it."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from .models import MAX_OPTIONS, Participant, Study
from .platforms import mturk
from .services import TEXT_FIELDS, EntryParams, deletable_kinds

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

    digit = forms.IntegerField(min_value=0, max_value=9, help_text="The digit asked about.")
    correct = forms.FileField(help_text="A picture that plainly shows the digit (any image; drawn at 28x28).")

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
