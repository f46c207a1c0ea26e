from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

if TYPE_CHECKING:
    import numpy as np

from .methods import registry

#: The names used for methods everywhere (arrays, files, database, CSV, reports), from the registry.
#: A new registry entry changes these choices: run ``makemigrations`` (the database checks the names).
MethodName = models.TextChoices("MethodName", [(m.name.upper(), (m.name, m.label)) for m in registry.METHODS])


def mnist_layout() -> dict:
    """The layout of a set made before sets had one: MNIST's (see :meth:`explainers.data.ImageData.layout`)."""
    from .data import layout_of

    return layout_of(None)


class HasLayout:
    """What a model with a ``layout`` field (a data set's layout, see ``mnist_layout``) reads from it."""

    @property
    def classes(self) -> list[str]:
        return list(self.layout["classes"])

    @property
    def n_classes(self) -> int:
        return len(self.layout["classes"])

    @property
    def map_shape(self) -> tuple[int, int]:
        """(height, width) of one class map (one channel, whatever the images' channels)."""
        return tuple(self.layout["shape"][1:])

    @property
    def noun(self) -> str:
        return self.layout["noun"]


class ExplanationSet(HasLayout, models.Model):
    """One run of ``generate_explanations`` (or ``import_maps``): class-level maps of one model, with
    their provenance and the layout of their data set (class names, image shape)."""

    name = models.SlugField(max_length=100, unique=True)
    directory = models.CharField(max_length=500, help_text="Folder holding maps.npz, the PNGs and manifest.json")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    model_sha256 = models.CharField(max_length=64)
    data_source = models.CharField(max_length=300)
    parameters = models.JSONField(default=dict)
    manifest = models.JSONField(default=dict)
    overview_png = models.BinaryField(editable=False)
    layout = models.JSONField(
        default=mnist_layout,
        help_text="The data set's classes (names in label order), image shape [C, H, W], value range and noun.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("explainers:set_detail", args=[self.name])

    def map_for(self, method: str, digit: int) -> ClassMap:
        return self.maps.get(method=method, digit=digit)


class ClassMap(models.Model):
    """The class-level map of one digit by one method, as participants see it."""

    explanation_set = models.ForeignKey(ExplanationSet, on_delete=models.CASCADE, related_name="maps")
    method = models.CharField(max_length=20, choices=MethodName.choices)
    digit = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0)], help_text="The class's label (a digit for MNIST)."
    )
    values = models.BinaryField(help_text="H x W float32 scores, row-major, as displayed")
    png = models.BinaryField()

    class Meta:
        ordering = ["explanation_set", "method", "digit"]
        constraints = [
            models.UniqueConstraint(fields=["explanation_set", "method", "digit"], name="one_map_per_method_and_digit"),
            models.CheckConstraint(condition=models.Q(method__in=MethodName.values), name="known_method"),
        ]

    def __str__(self) -> str:
        return f"{self.explanation_set} {self.method} {self.digit}"

    def array(self) -> np.ndarray:
        import numpy as np  # here, not at the top: participants' pages load these models, never the values

        return np.frombuffer(bytes(self.values), dtype=np.float32).reshape(self.explanation_set.map_shape)

    def get_absolute_url(self) -> str:
        return reverse("explainers:map_png", args=[self.explanation_set.name, self.method, self.digit])
