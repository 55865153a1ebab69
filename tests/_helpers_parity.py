"""Parity checks shared by the fast-forward and streaming tests."""

import torch


def assert_scaled_close(actual: torch.Tensor, expected: torch.Tensor, tolerance: float = 1e-4, what: str = "") -> None:
    """
    `max |actual - expected| <= tolerance * max(1, max |expected|)`: float32 agreement relative to the layer's scale
    (SoundNet activations reach hundreds, where float32 sums in another order differ by ~1e-5 absolute).
    """
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    error = (actual.float() - expected.float()).abs().max().item() if expected.numel() else 0.0
    assert error <= tolerance * scale, f"{what}: max error {error:.3e} > {tolerance:g} x scale {scale:.3e}"
