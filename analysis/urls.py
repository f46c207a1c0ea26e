from django.urls import path

from . import views

app_name = "analysis"
urlpatterns = [
    path("kar/", views.kar_index, name="kar_index"),
    path("kar/<slug:name>/", views.kar_detail, name="kar_detail"),
    path("kar/<slug:name>/<str:filename>", views.kar_file, name="kar_file"),
]
