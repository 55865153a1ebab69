"""Parity checks shared by the fast-forward and streaming tests."""

import torch


def assert_scaled_close(actual: torch.Tensor, expected: torch.Tensor, tolerance: float = 1e-4, what: str = "") -> None:
    """
    `max |actual - expected| <= tolerance * max(1, max |expected|)`: float32 agreement relative to the layer's scale
    (SoundNet activations reach hundreds, where float32 sums in another order differ by ~1e-5 absolute).

    Why 1e-4 holds on any CPU kernel: two float32 computations of a sum of K products in different orders (BN
    folded or not, GEMM or convolution, tiles, AVX-512 / AVX2 / baseline blocking) differ by ~sqrt(K) * 2^-24 of
    the sum of |products| typically (K * 2^-24 at worst). SoundNet-8's largest K is 8 x 1,024 = 8,192 (the
    heads; 4 x 512 in the trunk), so each layer adds ~5e-6 of its scale, and a few layers compound to ~1e-5:
    1e-4 is a 10x margin. A wrong fold, padding or tile boundary is off by 1e-2 of the scale or more.
    """
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    error = (actual.float() - expected.float()).abs().max().item() if expected.numel() else 0.0
    assert error <= tolerance * scale, f"{what}: max error {error:.3e} > {tolerance:g} x scale {scale:.3e}"
