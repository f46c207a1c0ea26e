"""Admin for researchers: studies (status, texts, platforms), participants and answers (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from . import services, texts
from .forms import AttentionCheckForm
from .models import Answer, Item, MTurkHIT, Participant, Study
from .pictures import picture


class ReadOnlyAdmin(admin.ModelAdmin):
    """Stored observations: visible, never edited or deleted through the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "status",
        "explanation_set",
        "questions",
        "participant_count",
        "monitor_link",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("name", "slug")
    actions = ("open_studies", "close_studies")
    # What shapes the questions is fixed at creation (manage.py create_study): participants' sheets depend on it.
    readonly_fields = (
        "slug",
        "explanation_set",
        "methods",
        "n_real_questions",
        "n_attention_checks",
        "seed",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "slug", "status", "explanation_set")}),
        ("Participant texts", {"fields": services.TEXT_FIELDS}),
        ("Questions", {"fields": ("methods", "n_real_questions", "n_attention_checks", "pass_threshold", "seed")}),
        (
            "Platforms",
            {
                "fields": (
                    "accept_mturk",
                    "accept_prolific",
                    "accept_direct",
                    "prolific_completion_code",
                    "prolific_failed_code",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )

    def has_add_permission(self, request) -> bool:
        return False  # studies are built from an explanation set by manage.py create_study

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.participants.exists():
            fields.append("pass_threshold")  # the analysis of earlier participants depends on it
        if obj is not None and obj.participants.filter(kind=Participant.Kind.REAL).exists():
            fields.extend(services.TEXT_FIELDS)  # what real participants read (services.update_texts refuses too)
        return fields

    @admin.display(description="questions")
    def questions(self, obj: Study) -> str:
        return f"{obj.n_real_questions} + {obj.n_attention_checks} checks (pass {obj.pass_threshold})"

    @admin.display(description="participants")
    def participant_count(self, obj: Study) -> int:
        return obj.participants.count()

    @admin.display(description="monitor")
    def monitor_link(self, obj: Study):
        return format_html('<a href="{}">monitor</a>', obj.get_monitor_url())

    @admin.action(description="Open the selected studies to participants")
    def open_studies(self, request: HttpRequest, queryset):
        for study in queryset:
            services.set_study_status(study, Study.Status.OPEN)
        self.message_user(request, f"Opened {queryset.count()} studies.")

    @admin.action(description="Close the selected studies (participants who started may finish)")
    def close_studies(self, request: HttpRequest, queryset):
        for study in queryset:
            services.set_study_status(study, Study.Status.CLOSED)
        self.message_user(request, f"Closed {queryset.count()} studies.")


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "study", "number", "kind", "digit", "pictures")
    list_filter = ("kind", "study")
    readonly_fields = ("study", "number", "kind", "digit", "pictures", "replace_link")
    fields = readonly_fields

    @admin.display(description="options (canonical slots)")
    def pictures(self, obj: Item):
        options = obj.options.only("slot", "method", "is_correct", "key")
        return format_html_join(
            " ",
            '<figure style="display:inline-block;margin:0 .3rem;text-align:center">'
            '<img src="{}" width="70" height="70" style="image-rendering:pixelated" alt=""><figcaption>{}</figcaption></figure>',
            ((picture(o.key), o.method or ("correct" if o.is_correct else "distractor")) for o in options),
        )

    @admin.display(description="replace")
    def replace_link(self, obj: Item):
        if not obj.is_attention:
            return "-"
        return format_html(
            '<a href="{}">Replace this attention check</a>', reverse("admin:survey_item_replace", args=[obj.pk])
        )

    def get_urls(self):
        return [
            path("<int:item_id>/replace/", self.admin_site.admin_view(self.replace_view), name="survey_item_replace"),
            *super().get_urls(),
        ]

    def replace_view(self, request: HttpRequest, item_id: int):
        item = get_object_or_404(Item, pk=item_id, kind=Item.Kind.ATTENTION)
        if not request.user.has_perm("survey.change_study"):
            messages.error(request, "You may not change studies.")
            return HttpResponseRedirect(reverse("admin:survey_item_change", args=[item.pk]))
        n_distractors = item.study.n_options - 1
        form = AttentionCheckForm(
            request.POST or None, request.FILES or None, initial={"digit": item.digit}, n_distractors=n_distractors
        )
        if request.method == "POST" and form.is_valid():
            names = ["correct", *AttentionCheckForm.distractor_names(n_distractors)]
            pictures = [form.cleaned_data[name].read() for name in names]
            try:
                services.replace_attention_check(
                    item.study, item.number, form.cleaned_data["digit"], pictures[0], pictures[1:]
                )
            except services.SurveyError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Replaced attention check {item.number} of {item.study.slug}.")
                return HttpResponseRedirect(reverse("admin:survey_item_change", args=[item.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Replace attention check {item.number} of {item.study}",
            "form": form,
            "item": item,
            "n_distractors": n_distractors,
            "noun": item.study.noun,
            "nouns": texts.plural(item.study.noun),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "survey/admin/replace_check.html", context)


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "study",
        "kind",
        "platform",
        "external_id",
        "status",
        "checks_passed",
        "passed",
        "review_status",
        "started_at",
        "finished_at",
    )
    list_filter = ("kind", "status", "platform", "passed", "review_status", "study")
    search_fields = ("public_id", "worker_id", "assignment_id", "hit_id", "prolific_pid", "completion_code")
    date_hierarchy = "started_at"
    actions = ("delete_not_counted",)

    @admin.action(description="Delete the selected pilot / simulated participants with their answers")
    def delete_not_counted(self, request: HttpRequest, queryset):
        """The one way to delete in this admin: never a real participant (a selection with one deletes nothing)."""
        real = queryset.filter(kind=Participant.Kind.REAL).count()
        if real:
            self.message_user(
                request, f"Nothing deleted: {real} of the selected are real participants.", level=messages.ERROR
            )
            return
        deleted = 0
        with transaction.atomic():
            for study in Study.objects.filter(participants__in=queryset).distinct():
                selected = queryset.filter(study=study)
                kinds = set(selected.values_list("kind", flat=True))
                counts = services.delete_participants(study, kinds, only=set(selected.values_list("pk", flat=True)))
                deleted += sum(counts.values())
        self.message_user(request, f"Deleted {deleted} participants.")


@admin.register(Answer)
class AnswerAdmin(ReadOnlyAdmin):
    list_display = ("participant", "item", "position", "method", "correct", "shown_at", "answered_at", "response_ms")
    list_filter = ("item__kind", "method", "correct", "participant__study")
    search_fields = ("participant__public_id", "participant__worker_id", "participant__prolific_pid")
    list_select_related = ("participant", "item", "item__study")


@admin.register(MTurkHIT)
class MTurkHITAdmin(ReadOnlyAdmin):
    list_display = ("hit_id", "study", "sandbox", "max_assignments", "reward", "created_at", "expires_at")
    list_filter = ("sandbox", "study")
