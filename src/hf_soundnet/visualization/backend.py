"""matplotlib, optional: imported on first use, drawing on Agg canvases (no screen), with a clear error when missing.

The plots are an extra (`pip install "hf-soundnet[viz]"`): nothing else in the package imports matplotlib, so the
commands that draw nothing start without it. Figures are built as `matplotlib.figure.Figure` objects on an Agg canvas,
never through `pyplot`: no global figure manager, no GUI backend, nothing to close.
"""

from typing import Any

from ..errors import SoundNetError


INSTALL_HINT = 'pip install "hf-soundnet[viz]"'


class MissingPlotDependencyError(SoundNetError, ImportError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> Any:
    """The `matplotlib` module; raises [`MissingPlotDependencyError`] without it. The global backend is left as
    it is (a notebook keeps its own): figures get their Agg canvas from [`new_figure`]."""
    try:
        import matplotlib
    except ImportError as err:
        raise MissingPlotDependencyError(
            f"Plots need matplotlib, which is not installed: {INSTALL_HINT} (or pip install matplotlib)."
        ) from err
    return matplotlib


def new_figure(**kwargs: Any) -> Any:
    """A `matplotlib.figure.Figure(**kwargs)` on an Agg canvas (`figure.savefig` writes PNG without a screen)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


__all__ = ["INSTALL_HINT", "MissingPlotDependencyError", "new_figure", "require_matplotlib"]
