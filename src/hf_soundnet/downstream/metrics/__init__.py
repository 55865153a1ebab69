"""Metrics shipped as local `evaluate` modules, loaded by path so they work offline (`HF_HUB_OFFLINE=1`).

`evaluate.load("accuracy")` downloads the module from the Hub; `hf_soundnet.downstream.metrics.load("accuracy")` loads the copy
in this package. `evaluate` is imported only when a metric is loaded.
"""

from importlib import resources


# Every metric is a folder `<name>/<name>.py` holding one `evaluate.Metric` subclass.
METRICS = ("accuracy",)


def module_path(name: str) -> str:
    """Path of the local evaluate module `name`, to pass to `evaluate.load`."""
    if name not in METRICS:
        raise ValueError(f"No local metric {name!r}; shipped metrics: {list(METRICS)}.")
    return str(resources.files(__name__).joinpath(name, f"{name}.py"))


def load(name: str, **kwargs):
    """`evaluate.load` of the local module `name` (kwargs go to `evaluate.load`)."""
    import evaluate

    return evaluate.load(module_path(name), **kwargs)


__all__ = ["METRICS", "load", "module_path"]
