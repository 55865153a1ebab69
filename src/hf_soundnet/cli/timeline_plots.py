"""`soundnet classify --plot DIR`: one timeline PNG per classified file, drawn from the run's own probabilities.

The PNG of input `a/dog.wav` (its path below the inputs' common folder) is `DIR/a/dog.wav.png`: the folders are
mirrored and the input's suffix kept, so two inputs never share a picture (`dog.wav` and `dog.mp3` give
`dog.wav.png` and `dog.mp3.png`). Each picture is `hf_soundnet.visualization.plot_timeline` of the per-step
probabilities that the classify forward computed (`classify_files(..., with_arrays=True)`), never a second forward.
"""

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

from .common import InputFile, UsageError


def check_plot_dependency() -> None:
    """A `UsageError` when matplotlib is missing, before any model is loaded."""
    from ..visualization.backend import MissingPlotDependencyError, require_matplotlib

    try:
        require_matplotlib()
    except MissingPlotDependencyError as err:
        raise UsageError(f"--plot: {err}") from err


def plot_path(plot_dir: Path, relative: Path) -> Path:
    """Where the picture of the input at `relative` goes: `plot_dir / relative` with `.png` appended."""
    return plot_dir / relative.parent / f"{relative.name}.png"


class TimelinePlotter:
    """
    Writes the timeline PNG of each successful record that passes through [`TimelinePlotter.plotted`] and drops
    the arrays from it (the record becomes JSON-ready again). A picture that cannot be written is reported on stderr
    and counted in `failures`; its record is kept.

    Args:
        plot_dir: the output folder (created).
        inputs: the run's inputs, to find each record's relative path.
        config: the model's config (class names, layer table).
        sampling_rate: rate of the records' waveforms.
    """

    def __init__(self, plot_dir: Path, inputs: Iterable[InputFile], config, sampling_rate: int):
        self.plot_dir = plot_dir
        self.relative = {os.path.abspath(item.path): item.relative for item in inputs}
        self.config = config
        self.sampling_rate = sampling_rate
        self.failures = 0
        self.written: list[Path] = []

    def plotted(self, records: Iterable[dict]) -> Iterator[dict]:
        """`records` as they come, each successful one plotted and stripped of `step_probabilities` and
        `waveform`."""
        for record in records:
            if "error" not in record:
                arrays = record.pop("step_probabilities"), record.pop("waveform")
                self.write(record["path"], *arrays)
            yield record

    def write(self, path: str, step_probabilities: tuple, waveform) -> None:
        """Draws and saves the picture of the input `path`; a failure is reported and counted."""
        from ..visualization.timeline import plot_timeline

        relative = self.relative.get(os.path.abspath(path), Path(Path(path).name))
        target = plot_path(self.plot_dir, relative)
        try:
            objects, scenes = step_probabilities
            figure = plot_timeline(
                waveform, self.sampling_rate, objects, scenes, self.config, title=relative.as_posix()
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(target, dpi=100)
        except (OSError, ValueError) as err:
            self.failures += 1
            tqdm.write(f"soundnet classify: {path}: cannot write the plot {target}: {err}", file=sys.stderr)
            return
        self.written.append(target)


__all__ = ["TimelinePlotter", "check_plot_dependency", "plot_path"]
