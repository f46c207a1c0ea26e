from django.apps import AppConfig


class KarConfig(AppConfig):
    """Keep-And-Retrain: the paper's numerical evaluation (core in ``kar.core``, no models)."""

    name = "kar"
    verbose_name = "Keep-And-Retrain"
