"""A study's analysis report (staff only). Included under ``research/studies/<slug:slug>/report/``."""

from django.urls import path

from . import study_views

app_name = "analysis"
urlpatterns = [
    path("", study_views.report, name="report"),
    path("<str:name>.png", study_views.figure, name="figure"),
    path("files/<str:filename>", study_views.download, name="download"),
]
