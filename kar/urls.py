"""KAR's researcher pages (staff only): the runs under ``DATA_DIR/kar``, their tables, figures and files."""

from django.urls import path

from . import views

app_name = "kar"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:name>/", views.detail, name="detail"),
    path("<slug:name>/<str:filename>", views.download, name="file"),
]
