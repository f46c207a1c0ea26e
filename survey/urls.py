from django.urls import path

from . import participant_admin_views, research_views, study_views, text_views, views

app_name = "survey"
urlpatterns = [
    path("", views.site_root, name="site_root"),
    # Participants (framable by MTurk; identified by the signed token in the URL)
    path("s/<slug:slug>/", views.landing, name="landing"),
    path("s/<slug:slug>/start/", views.start, name="start"),
    path("s/<slug:slug>/p/<str:token>/", views.home, name="home"),
    path("s/<slug:slug>/p/<str:token>/q/<int:position>/", views.question, name="question"),
    path("s/<slug:slug>/p/<str:token>/finish/", views.finish, name="finish"),
    # Researchers (staff login)
    path("research/studies/", research_views.study_list, name="study_list"),
    # Before the monitor: "new" would otherwise be read as a study's slug.
    path("research/studies/new/", study_views.study_create, name="study_create"),
    path("research/studies/<slug:slug>/", research_views.monitor, name="monitor"),
    path("research/studies/<slug:slug>/status/", study_views.study_status, name="study_status"),
    path("research/studies/<slug:slug>/responses.<str:fmt>", research_views.download, name="download"),
    path("research/studies/<slug:slug>/pilot/", participant_admin_views.pilot, name="study_pilot"),
    path(
        "research/studies/<slug:slug>/delete-participants/",
        participant_admin_views.delete_participants,
        name="delete_participants",
    ),
    path(
        "research/studies/<slug:slug>/prolific-<str:which>.txt",
        participant_admin_views.prolific_ids,
        name="prolific_ids",
    ),
    path("research/studies/<slug:slug>/texts/", text_views.study_texts, name="study_texts"),
]
