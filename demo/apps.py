from django.apps import AppConfig


class DemoConfig(AppConfig):
    """What ``make demo`` prepares (``manage.py prepare_demo``): it may use every app, and no app uses it."""

    name = "demo"
