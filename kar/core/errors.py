"""The one exception of the KAR core, at the bottom so every module can raise it without a cycle."""


class KarError(Exception):
    """A user-facing problem (bad parameters, a folder holding another run), said in one line."""
