from django.urls import path

from . import views

app_name = "explainers"
urlpatterns = [
    path("", views.set_list, name="set_list"),
    path("<slug:name>/", views.set_detail, name="set_detail"),
    path("<slug:name>/overview.png", views.overview_png, name="overview_png"),
    path("<slug:name>/maps/<str:method>/<int:digit>.png", views.map_png, name="map_png"),
]
