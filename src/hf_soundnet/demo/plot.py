"""The demo's timeline figure: the figure of `soundnet classify --plot` (`hf_soundnet.visualization.plot_timeline`)
for one analysed recording."""

from ..visualization import plot_timeline
from .analysis import Analysis, DemoModel


CLASSES_PER_HEAD = 5


def timeline_figure(demo: DemoModel, analysis: Analysis, title: str | None = None):
    """
    The timeline of one analysed recording as a `matplotlib.figure.Figure` whose axes are labelled `"audio"`,
    `"objects"` and `"scenes"`; in each strip's image, rows are the classes of its y tick labels (top to bottom) and
    columns the conv8 steps, the values `(classes, steps)` probabilities.
    """
    return plot_timeline(
        analysis.waveform,
        analysis.sampling_rate,
        analysis.object_steps,
        analysis.scene_steps,
        demo.model.config,
        classes_per_head=CLASSES_PER_HEAD,
        title=title,
    )


__all__ = ["CLASSES_PER_HEAD", "timeline_figure"]
