import json
import os
import subprocess
import sys
import textwrap

import torch

from hf_soundnet import (
    SoundNetConfig,
    SoundNetFeatureExtractor,
    SoundNetForAudioClassification,
    SoundNetForPreTraining,
)


def run_fresh(code: str) -> dict:
    """Runs `code` in a fresh interpreter (nothing registered yet) and returns the JSON it prints last."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_save_and_load_through_every_auto_class_in_a_fresh_process(tmp_path, tiny_config):
    torch.manual_seed(0)
    config = SoundNetConfig(**{**tiny_config.to_dict(), "num_labels": 3})
    pretraining = SoundNetForPreTraining(config).eval()
    classifier = SoundNetForAudioClassification(config).eval()
    classifier.soundnet.load_state_dict(pretraining.soundnet.state_dict())
    pretraining.save_pretrained(tmp_path / "pretraining")
    classifier.save_pretrained(tmp_path / "classifier")
    SoundNetFeatureExtractor(input_scale=128.0).save_pretrained(tmp_path / "classifier")
    x = torch.linspace(-1, 1, 4000)[None]
    with torch.no_grad():
        expected = {
            "trunk": pretraining.soundnet(x).last_hidden_state.sum().item(),
            "objects": pretraining(x).object_logits.sum().item(),
            "logits": classifier(x).logits.tolist(),
        }

    got = run_fresh(
        f"""
        import json, torch
        import hf_soundnet
        from transformers import (AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForAudioClassification,
                                  AutoModelForPreTraining)
        pre, clf = {str(tmp_path / "pretraining")!r}, {str(tmp_path / "classifier")!r}
        x = torch.linspace(-1, 1, 4000)[None]
        with torch.no_grad():
            base = AutoModel.from_pretrained(pre).eval()
            heads = AutoModelForPreTraining.from_pretrained(pre).eval()
            classifier = AutoModelForAudioClassification.from_pretrained(clf).eval()
            print(json.dumps({{
                "config": type(AutoConfig.from_pretrained(pre)).__name__,
                "classes": [type(m).__name__ for m in (base, heads, classifier)],
                "extractor": [type(AutoFeatureExtractor.from_pretrained(clf)).__name__,
                              AutoFeatureExtractor.from_pretrained(clf).input_scale],
                "trunk": base(x).last_hidden_state.sum().item(),
                "objects": heads(x).object_logits.sum().item(),
                "logits": classifier(x).logits.tolist(),
            }}))
        """
    )
    assert got["config"] == "SoundNetConfig"
    assert got["classes"] == ["SoundNetModel", "SoundNetForPreTraining", "SoundNetForAudioClassification"]
    assert got["extractor"] == ["SoundNetFeatureExtractor", 128.0]
    assert abs(got["trunk"] - expected["trunk"]) < 1e-4
    assert abs(got["objects"] - expected["objects"]) < 1e-4
    torch.testing.assert_close(torch.tensor(got["logits"]), torch.tensor(expected["logits"]))


def test_import_does_not_pull_training_dependencies():
    # transformers itself imports accelerate when it is installed, so only the
    # packages transformers leaves alone are checked here.
    got = run_fresh(
        """
        import json, sys
        import hf_soundnet
        print(json.dumps({"loaded": [m for m in ("datasets", "evaluate", "sklearn") if m in sys.modules]}))
        """
    )
    assert got["loaded"] == []
