"""Reading `sound8.npy` (a pickled dict of dicts of NumPy arrays) without running any code the file names.

`np.load(allow_pickle=True)` unpickles whatever the file says, so a crafted `.npy` runs arbitrary code (a
`__reduce__` that calls `os.system`). Here the `.npy` header is parsed by NumPy's own `numpy.lib.format` and the
payload by a `pickle.Unpickler` whose `find_class` resolves only the three globals NumPy's array pickles use; any other
global (a function, a class, a module attribute) is refused before it is looked up, so nothing outside NumPy's array
reconstruction is ever called. Dicts, lists, tuples, strings and numbers need no globals.
"""

import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from .errors import ConversionError


try:  # NumPy 2 moved the module; pickles written by NumPy 1 (and Python 2) name `numpy.core.multiarray`
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import _reconstruct

# (module, name) -> object: the only globals an array pickle may name.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}
_HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"the pickle names {module}.{name}, which is not part of a NumPy array (only "
                f"{', '.join(sorted(f'{m}.{n}' for m, n in ALLOWED_GLOBALS))} are allowed)"
            ) from None


def load_pickled_npy(path: str | Path) -> object:
    """The object stored in an object-dtype `.npy` file (`.item()` of its 0-d array), read with the restricted
    unpickler; a plain numeric `.npy` is returned as its array. Raises `ConversionError` naming `path`."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            version = npy_format.read_magic(handle)
            if version not in _HEADER_READERS:
                raise ValueError(f".npy format version {version} (this reader knows 1.0 and 2.0)")
            _, _, dtype = _HEADER_READERS[version](handle)
            if not dtype.hasobject:
                return np.load(path, allow_pickle=False)
            array = _ArrayOnlyUnpickler(handle, encoding="latin1").load()
    except pickle.UnpicklingError as err:
        raise ConversionError(f"{path}: refused to unpickle: {err}. Use the released sound8.npy.") from err
    except (ValueError, EOFError, OSError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise ConversionError(f"{path}: not a readable .npy file ({type(err).__name__}: {err}).") from err
    if isinstance(array, np.ndarray) and array.dtype == object and array.shape == ():
        return array.item()
    return array


def load_sound8(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """
    The `{scope: {leaf: array}}` of a `sound8.npy`, read without executing pickled code.

    Raises:
        `ConversionError`: the file is unreadable, names a global outside NumPy's array reconstruction, or does not
            hold a dict of dicts of arrays.
    """
    params = load_pickled_npy(path)
    if not isinstance(params, dict):
        raise ConversionError(
            f"{path}: holds a {type(params).__name__}, not the dict of layers {{'conv1': {{'weights': ...}}, ...}} of "
            "a sound8.npy."
        )
    for scope, leaves in params.items():
        if not isinstance(leaves, dict) or not all(isinstance(a, np.ndarray) for a in leaves.values()):
            raise ConversionError(f"{path}: layer {scope!r} is not a dict of arrays ({type(leaves).__name__}).")
    return params


__all__ = ["ALLOWED_GLOBALS", "load_pickled_npy", "load_sound8"]
