"""Helpers for the Hub tests: fresh client processes against the loopback Hub, with or without hf_soundnet.

`describe(model, waveform_file, trust_remote_code)` loads a checkpoint through every Auto class and the pipeline and
returns their outputs as JSON-ready values. The tests call it in-process on the local folder (plugin imported), and
run this file as a script in a fresh interpreter on the Hub repo:

    python tests/_helpers_hub.py [--block-plugin] MODEL WAVEFORM.npy

`--block-plugin` installs an import hook that makes `hf_soundnet` unimportable *before* transformers is imported (the
shared venv has it installed editable), checks that `import hf_soundnet` fails, and loads with
`trust_remote_code=True`, as a user without the plugin would.
"""

import json
import os
import subprocess
import sys
from importlib.abc import MetaPathFinder
from pathlib import Path


TOP_K = 5


class BlockPlugin(MetaPathFinder):
    """An import hook under which `hf_soundnet` and its submodules cannot be imported."""

    def find_spec(self, name, path=None, target=None):
        if name == "hf_soundnet" or name.startswith("hf_soundnet."):
            raise ImportError(f"{name} is blocked: this process stands for an environment without hf_soundnet")
        return None


def block_plugin() -> None:
    """Makes `hf_soundnet` unimportable in this process ([`BlockPlugin`]) and checks that the block holds."""
    sys.meta_path.insert(0, BlockPlugin())
    try:
        import hf_soundnet  # noqa: F401
    except ImportError:
        return
    raise SystemExit("hf_soundnet is still importable: the block does not work")


def describe(model: str, waveform_file: str, trust_remote_code: bool) -> dict:
    """Outputs of AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForAudioClassification and the pipeline."""
    import numpy as np
    import torch
    from transformers import (
        AutoConfig,
        AutoFeatureExtractor,
        AutoModel,
        AutoModelForAudioClassification,
        pipeline,
    )

    kwargs = {"trust_remote_code": True} if trust_remote_code else {}
    waveform = np.load(waveform_file)
    config = AutoConfig.from_pretrained(model, **kwargs)
    extractor = AutoFeatureExtractor.from_pretrained(model, **kwargs)
    trunk = AutoModel.from_pretrained(model, **kwargs).eval()
    classifier = AutoModelForAudioClassification.from_pretrained(model, **kwargs).eval()
    classify = pipeline("audio-classification", model=model, **kwargs)
    inputs = extractor(waveform, sampling_rate=extractor.sampling_rate, return_tensors="pt")
    with torch.no_grad():
        hidden = trunk(**inputs).last_hidden_state
        logits = classifier(**inputs).logits
    predictions = classify({"array": waveform, "sampling_rate": extractor.sampling_rate}, top_k=TOP_K)
    return {
        "classes": {
            name: f"{type(obj).__module__}.{type(obj).__name__}"
            for name, obj in (
                ("config", config),
                ("extractor", extractor),
                ("trunk", trunk),
                ("classifier", classifier),
            )
        },
        "pipeline_model": type(classify.model).__name__,
        "input_values": inputs["input_values"][0, :: max(1, inputs["input_values"].shape[-1] // 4096)].tolist(),
        "hidden": hidden[0].tolist(),
        "logits": logits[0].tolist(),
        "id2label": {str(k): v for k, v in classifier.config.id2label.items()},
        "predictions": predictions,
    }


def hub_env(endpoint: str, hf_home: Path) -> dict[str, str]:
    """The environment of a fresh client process: online, pointed at `endpoint`, with an empty `HF_HOME`."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    return {**env, "HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1"}


def run_client(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs `python *args` in a fresh interpreter with `env`; returns the completed process (text output)."""
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout)


def describe_in_fresh_process(model: str, waveform_file: Path, env: dict[str, str], block_plugin: bool) -> dict:
    """`describe()` run by this file as a script in a fresh interpreter; raises with its stderr when it fails."""
    args = [str(Path(__file__).resolve()), *(["--block-plugin"] if block_plugin else []), model, str(waveform_file)]
    result = run_client(args, env)
    if result.returncode != 0:
        raise AssertionError(f"fresh process failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    block = argv[:1] == ["--block-plugin"]
    model, waveform_file = argv[1:] if block else argv
    if block:
        block_plugin()
    else:
        import hf_soundnet  # noqa: F401
    result = describe(model, waveform_file, trust_remote_code=block)
    result["plugin_importable"] = not block
    result["loaded_modules"] = sorted(name for name in sys.modules if name.split(".")[0] == "hf_soundnet")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])


__all__ = ["BlockPlugin", "describe", "describe_in_fresh_process", "hub_env", "run_client"]
