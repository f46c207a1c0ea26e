from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("explanations/", include("explainers.urls")),
    path("kar/", include("kar.urls")),
    # KAR's pages lived under analysis/ before KAR became an app; old links still arrive.
    re_path(
        r"^analysis/kar/(?P<rest>(?:[-\w]+/)?(?:[-\w][-\w.]*)?)$",
        RedirectView.as_view(url="/kar/%(rest)s", permanent=True),
    ),
    path("research/studies/<slug:slug>/report/", include("analysis.urls")),
    path("", include("survey.urls")),  # the neutral root, participants under s/, researchers under research/
]

# A database that is away gets a 503 "try again in a moment" page with Retry-After (config/errors.py).
handler500 = "config.errors.server_error"
