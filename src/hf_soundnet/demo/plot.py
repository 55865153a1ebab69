"""The demo's timeline figure: `hf_soundnet.visualization.plot_timeline` (the figure of `soundnet classify --plot`)
when the package has it, else a simple one of its own: the waveform over one heat strip per head (the most probable
classes as rows, the conv8 steps as columns)."""

import numpy as np

from .analysis import Analysis, DemoModel


CLASSES_PER_HEAD = 5


def _library_plot():
    """`hf_soundnet.visualization.plot_timeline`, or None where this version of the package has none."""
    try:
        from ..visualization import plot_timeline
    except ImportError:
        return None
    return plot_timeline


def timeline_figure(demo: DemoModel, analysis: Analysis, title: str | None = None):
    """
    The timeline of one analysed recording as a `matplotlib.figure.Figure` whose axes are labelled `"audio"`,
    `"objects"` and `"scenes"`; in each strip's image, rows are the classes of its y tick labels (top to bottom) and
    columns the steps, the values `(classes, steps)` probabilities.
    """
    plot_timeline = _library_plot()
    if plot_timeline is not None:
        return plot_timeline(
            analysis.waveform,
            analysis.sampling_rate,
            analysis.object_steps,
            analysis.scene_steps,
            demo.model.config,
            classes_per_head=CLASSES_PER_HEAD,
            title=title,
        )
    return heat_strip_figure(analysis, demo.labels, demo.step_seconds, title=title)


def strongest_classes(step_probabilities: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` classes of highest mean probability over the steps `(steps, classes)`, highest first."""
    return np.argsort(-step_probabilities.mean(axis=0), kind="stable")[:count]


def heat_strip_figure(
    analysis: Analysis, labels: tuple[list[str], list[str]], step_seconds: float, title: str | None = None
):
    """The demo's own timeline figure (see the module docstring); `labels` are the object and scene names."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = analysis.object_steps.shape[0]
    duration = analysis.waveform.shape[0] / analysis.sampling_rate
    end = max(duration, steps * step_seconds)
    figure = Figure(figsize=(11, 6), layout="constrained")
    FigureCanvasAgg(figure)
    audio_axes, object_axes, scene_axes = figure.subplots(3, 1, sharex=True, height_ratios=[1.2, 2, 2])
    times = np.arange(analysis.waveform.shape[0]) / analysis.sampling_rate
    stride = max(1, analysis.waveform.shape[0] // 20000)  # at most ~20k points drawn
    audio_axes.plot(times[::stride], analysis.waveform[::stride], linewidth=0.5, color="0.3")
    audio_axes.set_ylabel("audio")
    audio_axes.set_label("audio")
    image = None
    for axes, probabilities, names, head in (
        (object_axes, analysis.object_steps, labels[0], "objects"),
        (scene_axes, analysis.scene_steps, labels[1], "scenes"),
    ):
        classes = strongest_classes(probabilities, CLASSES_PER_HEAD)
        image = axes.imshow(
            probabilities[:, classes].T,
            aspect="auto",
            cmap="magma",
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
            extent=(0.0, steps * step_seconds, len(classes) - 0.5, -0.5),
        )
        axes.set_yticks(range(len(classes)), [names[i].split(",")[0] for i in classes], fontsize=8)
        axes.set_ylabel(head)
        axes.set_label(head)
    audio_axes.set_xlim(0.0, end)
    scene_axes.set_xlabel(f"time (s); one column per conv8 step ({step_seconds:.2f} s)")
    figure.colorbar(image, ax=[object_axes, scene_axes], label="probability", fraction=0.02, pad=0.01)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


__all__ = ["CLASSES_PER_HEAD", "heat_strip_figure", "strongest_classes", "timeline_figure"]
