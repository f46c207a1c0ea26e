"""The site's URLs less the analysis app's: survey's pages must not need an app above them."""

from config.urls import urlpatterns as site_urlpatterns

urlpatterns = [pattern for pattern in site_urlpatterns if getattr(pattern, "app_name", None) != "analysis"]
