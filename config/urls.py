from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="explainers:set_list", permanent=False)),
    path("admin/", admin.site.urls),
    path("explanations/", include("explainers.urls")),
    path("analysis/", include("analysis.urls")),
    path("research/studies/<slug:slug>/report/", include("analysis.study_urls")),
    path("", include("survey.urls")),  # participants under s/, researchers under research/
]
