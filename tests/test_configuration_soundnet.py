import ast
import inspect
import re
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import released_style_tiny_config
from huggingface_hub.errors import StrictDataclassClassValidationError
from transformers import AutoConfig, PreTrainedConfig
from transformers.testing_utils import CaptureLogger

import hf_soundnet.configuration_soundnet
from hf_soundnet import SOUNDNET_VARIANTS, SoundNetConfig


OWN_FIELDS = [f.name for f in fields(SoundNetConfig) if f.name not in {f.name for f in fields(PreTrainedConfig)}]


def test_defaults_are_the_torch7_soundnet8():
    config = SoundNetConfig()
    # The brief's Torch7 definition, written out independently of the config module.
    assert config.conv_kernel_sizes == [64, 32, 16, 8, 4, 4, 4]
    assert config.conv_paddings == [32, 16, 8, 4, 2, 2, 2]
    assert config.conv_strides == [2] * 7
    assert config.pool_kernel_sizes == [8, 8, 1, 1, 4, 1, 1]
    assert (config.num_object_classes, config.num_scene_classes) == (1000, 401)
    assert (config.head_kernel_size, config.head_stride, config.head_padding) == (8, 2, 0)
    assert config.batch_norm_eps == 1e-5 and config.sampling_rate == 22050


def test_soundnet5_variant():
    config = SoundNetConfig.from_variant("soundnet5")
    assert config.conv_channels == [32, 64, 128, 256]
    assert config.conv_kernel_sizes == [64, 32, 16, 8]
    assert config.conv_paddings == [32, 16, 8, 4]
    assert config.pool_kernel_sizes == [8, 8, 8, 1]
    assert (config.head_kernel_size, config.head_stride, config.head_padding) == (16, 12, 4)
    assert set(SOUNDNET_VARIANTS) == {"soundnet8", "soundnet5"}
    with pytest.raises(ValueError, match="Unknown SoundNet variant"):
        SoundNetConfig.from_variant("soundnet9")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"conv_strides": (2, 2)}, "one non-zero length"),
        ({"conv_kernel_sizes": (64, 32, 16, 8, 4, 4, 0)}, "conv_kernel_sizes"),
        ({"conv_paddings": (32, 16, 8, 4, 2, 2, -1)}, "conv_paddings"),
        ({"classifier_layer": "conv9"}, "names no layer"),
        ({"classifier_type": "pretrained_heads", "num_labels": 3}, "1401 labels"),
        ({"classifier_type": "pretrained_heads", "id2label": {0: "a", 1: "b"}}, "1401 labels"),
        ({"head_stride": 0}, "Head kernel"),
    ],
)
def test_invalid_configs_raise(kwargs, message):
    with pytest.raises((ValueError, StrictDataclassClassValidationError), match=message):
        SoundNetConfig(**kwargs)


def test_wrong_type_raises():
    with pytest.raises(Exception, match="classifier_type"):
        SoundNetConfig(classifier_type="svm")


def test_layer_names_and_hops():
    config = SoundNetConfig()
    assert config.layer_names == [f"conv{i}" for i in range(1, 8)]
    assert config.layer_name_to_index["pool5"] == 4 and config.layer_name_to_index["pool1"] == 0
    assert "pool3" not in config.layer_name_to_index
    # hop = product of strides and pools up to each block
    expected, hop = [], 1
    for stride, pool in zip([2] * 7, [8, 8, 1, 1, 4, 1, 1]):
        hop *= stride * pool
        expected.append(hop)
    assert config.block_hops == expected
    assert config.head_hop == 65536


def test_every_field_is_documented_with_its_default():
    doc = SoundNetConfig.__doc__
    config = SoundNetConfig()
    for name in OWN_FIELDS:
        match = re.search(rf"^\s+{name} \(.*\):$", doc, re.MULTILINE)
        assert match, f"{name} is not documented"
        if "defaults to" in match.group(0):
            documented = match.group(0).split("defaults to", 1)[1].rstrip("):").strip().strip("`")
            default = getattr(config, name)
            assert ast.literal_eval(documented) == (tuple(default) if isinstance(default, list) else default), name


def test_every_field_is_used_by_the_library():
    import transformers.modeling_utils

    # `initializer_range` is read by `PreTrainedModel._init_weights`, which SoundNet inherits.
    assert "self.config.initializer_range" in inspect.getsource(
        transformers.modeling_utils.PreTrainedModel._init_weights
    )
    source = (
        "self.config.initializer_range"
        + "".join(
            p.read_text()
            for p in Path(inspect.getfile(SoundNetConfig)).parent.glob("*.py")
            if "configuration" not in p.name
        )
        + inspect.getsource(SoundNetConfig).split("def __post_init__")[1]
    )
    for name in OWN_FIELDS:
        assert re.search(rf"\.{name}\b", source), f"config field {name} is never read"


def test_round_trip(tmp_path):
    config = SoundNetConfig.from_variant("soundnet5", classifier_layer="pool2", num_labels=7)
    config.save_pretrained(tmp_path)
    loaded = SoundNetConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()


TINY = {
    "conv_channels": (4, 6),
    "conv_kernel_sizes": (8, 4),
    "conv_strides": (2, 2),
    "conv_paddings": (4, 2),
    "pool_kernel_sizes": (2, 1),
    "num_object_classes": 5,
    "num_scene_classes": 3,
}
NEW_LABELS = {"id2label": {0: "dog", 1: "rain", 2: "siren"}, "label2id": {"dog": 0, "rain": 1, "siren": 2}}


@pytest.fixture
def released_style_config(tmp_path):
    """A saved config like the released checkpoint's: pretrained heads, multi-label, named labels."""
    config = released_style_tiny_config()
    config.save_pretrained(tmp_path)
    return tmp_path


def test_pretrained_heads_config_derives_its_label_count():
    assert SoundNetConfig(**TINY, classifier_type="pretrained_heads").num_labels == 8
    assert SoundNetConfig(classifier_type="pretrained_heads").num_labels == 1401


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_labels": 3},
        {"num_labels": 3, **NEW_LABELS},
        {"num_labels": 3, "classifier_type": "linear"},
        NEW_LABELS,
    ],
    ids=["num_labels", "num_labels+names", "explicit_linear", "names_only"],
)
def test_new_labels_on_a_pretrained_heads_checkpoint_give_a_linear_classifier(released_style_config, kwargs):
    logger = hf_soundnet.configuration_soundnet.logger
    with CaptureLogger(logger) as captured:
        config = AutoConfig.from_pretrained(released_style_config, **kwargs)
    assert isinstance(config, SoundNetConfig)
    assert config.classifier_type == "linear"
    assert config.problem_type is None  # the loss then infers single-label from integer labels
    assert config.num_labels == 3
    if "id2label" in kwargs:
        assert config.id2label == NEW_LABELS["id2label"] and config.label2id == NEW_LABELS["label2id"]
    assert "heads (8 labels) are dropped" in captured.out and "new linear classifier over 3 labels" in captured.out
    config.validate()


def test_same_labels_keep_the_pretrained_heads(released_style_config):
    config = AutoConfig.from_pretrained(released_style_config, num_labels=8)
    assert config.classifier_type == "pretrained_heads"
    assert config.problem_type == "multi_label_classification"
    assert config.id2label[7] == "scene: s2"


def test_explicit_pretrained_heads_with_other_labels_is_refused(released_style_config):
    with pytest.raises(ValueError, match="predicts 8 labels, not 3"):
        AutoConfig.from_pretrained(released_style_config, num_labels=3, classifier_type="pretrained_heads")


def test_setting_num_labels_later_switches_consistently(released_style_config):
    """`config.num_labels = 10` asks for the same thing as `from_pretrained(..., num_labels=10)`."""
    config = SoundNetConfig.from_pretrained(released_style_config)
    with CaptureLogger(hf_soundnet.configuration_soundnet.logger) as captured:
        config.num_labels = 10
    assert (config.classifier_type, config.problem_type, config.num_labels) == ("linear", None, 10)
    assert "new linear classifier" in captured.out
    config.validate()


@pytest.mark.parametrize(
    "field, value", [("num_scene_classes", 4), ("num_object_classes", 1)], ids=["scenes", "objects"]
)
def test_new_head_sizes_later_re_derive_the_labels(released_style_config, field, value):
    config = SoundNetConfig.from_pretrained(released_style_config)
    with CaptureLogger(hf_soundnet.configuration_soundnet.logger) as captured:
        setattr(config, field, value)
    assert config.classifier_type == "pretrained_heads"
    assert config.num_labels == config.num_object_classes + config.num_scene_classes
    assert "replaced by" in captured.out
    config.validate()


def test_linear_config_turned_into_pretrained_heads_gets_the_heads_labels():
    config = SoundNetConfig(**TINY, num_labels=3)
    config.classifier_type = "pretrained_heads"
    assert config.num_labels == 8
    config.num_labels = 8  # the order used by callers that set both: a no-op now
    assert config.classifier_type == "pretrained_heads"
    config.validate()
