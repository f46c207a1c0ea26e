"""The explanation gallery: the generated sets and their maps, for staff only.

It names the methods and serves the very pictures participants are shown, so a public gallery
would unblind the study.
"""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import etag, require_safe

from .models import ClassMap, ExplanationSet, MethodName

# Images never change for a given set and update time; browsers may keep them, shared caches not
# (they are behind a login).
IMAGE_CACHE = "private, max-age=86400"


@require_safe
@staff_member_required
def set_list(request):
    sets = ExplanationSet.objects.all()
    return render(request, "explainers/set_list.html", {"sets": sets})


@require_safe
@staff_member_required
def set_detail(request, name: str):
    from .render import picture_size  # matplotlib: imported where the gallery needs it, not on every page

    explanation_set = get_object_or_404(ExplanationSet, name=name)
    maps = {(m.method, m.digit): m for m in explanation_set.maps.only("id", "method", "digit", "explanation_set")}
    classes = explanation_set.classes
    rows = [
        {
            "method": method,
            "label": method.label,
            "maps": [(class_name, maps.get((method.value, d))) for d, class_name in enumerate(classes)],
        }
        for method in MethodName  # every registered method
    ]
    width, height = picture_size(explanation_set.map_shape)
    context = {
        "set": explanation_set,
        "rows": rows,
        "classes": classes,
        "noun": explanation_set.noun,
        "width": width,
        "height": height,
    }
    return render(request, "explainers/set_detail.html", context)


def _set_etag(request, name: str, **kwargs) -> str | None:
    stamp = ExplanationSet.objects.filter(name=name).values_list("updated_at", flat=True).first()
    return f"{name}-{stamp.timestamp()}" if stamp else None


@require_safe
@staff_member_required
@etag(_set_etag)
def overview_png(request, name: str):
    explanation_set = get_object_or_404(ExplanationSet.objects.only("overview_png"), name=name)
    return _png(explanation_set.overview_png)


@require_safe
@staff_member_required
@etag(_set_etag)
def map_png(request, name: str, method: str, digit: int):
    class_map = ClassMap.objects.filter(explanation_set__name=name, method=method, digit=digit).only("png").first()
    if class_map is None:
        raise Http404(f"No {method} map of class {digit} in set {name}")
    return _png(class_map.png)


def _png(data) -> HttpResponse:
    response = HttpResponse(bytes(data), content_type="image/png")
    response["Cache-Control"] = IMAGE_CACHE
    return response
