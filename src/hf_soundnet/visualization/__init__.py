"""Seeing and hearing SoundNet: timeline plots of the heads, the conv1 filters, and galleries of the sounds that most
activate a layer's units (the paper's "hearing the hidden representation"). matplotlib is needed only for pictures
(the `viz` extra); nothing here imports it before a picture is drawn."""

from .backend import MissingPlotDependencyError
from .timeline import StepGrid, choose_classes, file_step_probabilities, plot_file_timeline, plot_timeline, step_grid


__all__ = [
    "MissingPlotDependencyError",
    "StepGrid",
    "choose_classes",
    "file_step_probabilities",
    "plot_file_timeline",
    "plot_timeline",
    "step_grid",
]
