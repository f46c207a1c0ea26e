from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("explanations/", include("explainers.urls")),
    path("analysis/", include("analysis.urls")),
    path("research/studies/<slug:slug>/report/", include("analysis.study_urls")),
    path("", include("survey.urls")),  # the neutral root, participants under s/, researchers under research/
]
