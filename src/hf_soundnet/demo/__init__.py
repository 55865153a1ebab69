"""The interactive demo (`soundnet demo`, the `spaces/soundnet8` Space): the analysis of one recording
(`analysis`), its timeline figure (`plot`) and the Gradio page (`app`; needs the `demo` extra)."""

from .analysis import TABLE_HEADERS, Analysis, DemoModel, analyse, label_scores, step_rows, summary
from .plot import timeline_figure


__all__ = [
    "TABLE_HEADERS",
    "Analysis",
    "DemoModel",
    "analyse",
    "label_scores",
    "step_rows",
    "summary",
    "timeline_figure",
]
