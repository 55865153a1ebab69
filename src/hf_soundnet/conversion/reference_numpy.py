"""An independent NumPy forward of SoundNet-8 straight from the TensorFlow-layout `sound8.npy`.

It shares no code with the rest of `hf_soundnet` (it imports only NumPy, and nothing imports into it): it reads the original keys and `(k, 1, C_in, C_out)` weights as they are
(no key table, no transpose into PyTorch layout), computes in float64 with its own im2col convolution, and follows
the Torch7 definition written out below. The converter checks its output against this before saving, and the parity
test checks the converted model against it.
"""

import pickle

import numpy as np
from numpy.lib import format as npy_format
from numpy.lib.stride_tricks import sliding_window_view


# (scope, stride, padding, max-pool after ReLU) of the Torch7 SoundNet-8; the kernel comes from the weights.
TORCH7_SOUNDNET8 = [
    ("conv1", 2, 32, 8),
    ("conv2", 2, 16, 8),
    ("conv3", 2, 8, 1),
    ("conv4", 2, 4, 1),
    ("conv5", 2, 2, 4),
    ("conv6", 2, 2, 1),
    ("conv7", 2, 2, 1),
]
HEADS = {"objects": "conv8", "scenes": "conv8_2"}
HEAD_STRIDE = 2
BATCH_NORM_EPS = 1e-5


class _NumpyArraysOnly(pickle.Unpickler):
    """Resolves only the globals of NumPy's array pickles, so reading a file never calls anything else."""

    def find_class(self, module: str, name: str):
        if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
            return getattr(np, name)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(()))[0]  # NumPy's own reconstructor, whatever its module
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")


def load_sound8(path: str) -> dict[str, dict[str, np.ndarray]]:
    """The pickled dict of dicts in `sound8.npy`, unpickled with only NumPy's array globals allowed."""
    with open(path, "rb") as handle:
        if npy_format.read_magic(handle) != (1, 0):
            raise ValueError(f"{path}: not a version 1.0 .npy file")
        npy_format.read_array_header_1_0(handle)
        params = _NumpyArraysOnly(handle, encoding="latin1").load().item()
    if not isinstance(params, dict):
        raise ValueError(f"{path}: holds a {type(params).__name__}, not a dict of layers")
    return params


def conv_tf_layout(x: np.ndarray, weights: np.ndarray, biases: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Cross-correlation of `x` `(frames, C_in)` with TF weights `(k, 1, C_in, C_out)`; returns `(frames', C_out)`."""
    kernel = weights.shape[0]
    x = np.pad(x, ((padding, padding), (0, 0)))
    windows = sliding_window_view(x, kernel, axis=0)[::stride]  # (frames', C_in, k)
    return np.einsum("tik,kio->to", windows, weights[:, 0].astype(np.float64)) + biases


def forward(params: dict, waveform: np.ndarray) -> dict[str, np.ndarray]:
    """
    Args:
        params: the `sound8.npy` dict.
        waveform: `(num_samples,)` mono 22,050 Hz audio already scaled to [-256, 256].

    Returns:
        `{"objects": (steps, 1000), "scenes": (steps, 401)}` per-step softmax probabilities (float64).
    """
    x = waveform.astype(np.float64)[:, None]
    for scope, stride, padding, pool in TORCH7_SOUNDNET8:
        p = params[scope]
        x = conv_tf_layout(x, p["weights"], p["biases"], stride, padding)
        x = (x - p["mean"]) / np.sqrt(p["var"].astype(np.float64) + BATCH_NORM_EPS) * p["gamma"] + p["beta"]
        x = np.maximum(x, 0.0)
        if pool > 1:
            frames = x.shape[0] // pool
            x = x[: frames * pool].reshape(frames, pool, -1).max(axis=1)
    probabilities = {}
    for name, scope in HEADS.items():
        logits = conv_tf_layout(x, params[scope]["weights"], params[scope]["biases"], HEAD_STRIDE, 0)
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probabilities[name] = exp / exp.sum(axis=1, keepdims=True)
    return probabilities


def clip_probabilities(params: dict, waveform: np.ndarray) -> dict[str, np.ndarray]:
    """Each head's per-step softmax averaged over the clip's steps: `{"objects": (1000,), "scenes": (401,)}`."""
    return {name: probs.mean(axis=0) for name, probs in forward(params, waveform).items()}
