"""Seeing and hearing SoundNet: timeline plots of the heads, the conv1 filters, and galleries of the sounds that most
activate a layer's units (the paper's "hearing the hidden representation"). matplotlib is needed only for pictures
(the `viz` extra); nothing here imports it before a picture is drawn."""

from .backend import MissingPlotDependencyError
from .clips import CLIP_FORMATS, ClipError, cut_clip
from .filters import conv1_filters, peak_frequencies, plot_conv1_filters
from .gallery import GalleryReport, write_gallery
from .timeline import StepGrid, choose_classes, file_step_probabilities, plot_file_timeline, plot_timeline, step_grid
from .units import TooShortForLayer, UnitSearch, UnitSegment, parse_units


__all__ = [
    "CLIP_FORMATS",
    "ClipError",
    "GalleryReport",
    "MissingPlotDependencyError",
    "StepGrid",
    "TooShortForLayer",
    "UnitSearch",
    "UnitSegment",
    "choose_classes",
    "conv1_filters",
    "cut_clip",
    "file_step_probabilities",
    "parse_units",
    "peak_frequencies",
    "plot_conv1_filters",
    "plot_file_timeline",
    "plot_timeline",
    "step_grid",
    "write_gallery",
]
