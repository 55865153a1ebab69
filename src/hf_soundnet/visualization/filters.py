"""The conv1 filters of a checkpoint as one picture: each filter's taps, ordered by the frequency it passes most."""

import numpy as np
import torch

from .backend import new_figure


def conv1_filters(model: torch.nn.Module) -> np.ndarray:
    """The first convolution's weights of any SoundNet model, `(channels, kernel_size)` float (one input channel)."""
    weight = model.base_model.blocks[0].conv.weight.detach().float().cpu().numpy()
    return weight[:, 0, :]


def peak_frequencies(filters: np.ndarray, sampling_rate: int, fft_size: int = 1024) -> np.ndarray:
    """The frequency in Hz of each filter's largest magnitude response; `filters` `(channels, taps)`."""
    response = np.abs(np.fft.rfft(filters, n=fft_size, axis=1))
    return response.argmax(axis=1) * sampling_rate / fft_size


def plot_conv1_filters(model: torch.nn.Module, columns: int = 4):
    """
    The conv1 filters of `model` (SoundNet-8: 16 filters of 64 taps), one small panel each, ordered by
    their peak frequency (in each panel's title), with the filter's magnitude response below the taps.

    Returns the figure; the taps' axes of filter `c` are labelled `filter c`.
    """
    filters = conv1_filters(model)
    rate = model.config.sampling_rate
    peaks = peak_frequencies(filters, rate)
    order = np.argsort(peaks, kind="stable")
    rows = -(-len(order) // columns)
    figure = new_figure(figsize=(3.2 * columns, 2.6 * rows), layout="constrained")
    grid = figure.subplots(2 * rows, columns, squeeze=False, height_ratios=[2, 1] * rows)
    response = np.abs(np.fft.rfft(filters, n=1024, axis=1))
    frequencies = np.fft.rfftfreq(1024, 1 / rate) / 1000
    for position in range(rows * columns):
        taps, spectrum = (
            grid[2 * (position // columns), position % columns],
            grid[2 * (position // columns) + 1, position % columns],
        )
        if position >= len(order):
            taps.set_visible(False)
            spectrum.set_visible(False)
            continue
        channel = order[position]
        taps.plot(np.arange(filters.shape[1]), filters[channel], color="tab:blue", linewidth=1)
        taps.set_title(f"filter {channel}: peak {peaks[channel] / 1000:.2f} kHz", fontsize=8)
        taps.set_label(f"filter {channel}")
        taps.tick_params(labelsize=6)
        spectrum.fill_between(frequencies, response[channel], color="tab:orange", linewidth=0)
        spectrum.set_xlim(0, frequencies[-1])
        spectrum.set_yticks([])
        spectrum.tick_params(labelsize=6)
    for axes in grid[-1]:
        axes.set_xlabel("kHz", fontsize=7)
    figure.suptitle(
        f"conv1 filters ({filters.shape[0]} x {filters.shape[1]} taps at {rate} Hz; blue: taps; orange: magnitude response)",
        fontsize=10,
    )
    return figure


__all__ = ["conv1_filters", "peak_frequencies", "plot_conv1_filters"]
