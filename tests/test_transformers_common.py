"""transformers' own common tests (`ConfigTester`, `SequenceFeatureExtractionTestMixin`, `ModelTesterMixin`) of the
pinned transformers, run against every SoundNet class the way in-tree audio models wire them
(`tests/models/audio_spectrogram_transformer`, `tests/models/wav2vec2`): a `*ModelTester` with a tiny config and
`prepare_config_and_inputs_for_common`, and a `unittest.TestCase` inheriting the mixins.

The mixins come from transformers' sdist, fetched and checksummed by `tests/fetch_transformers_tests.py` (`make
test` runs it first). Every test of theirs that SoundNet skips is listed in `SKIPS` with the reason, which holds for
an in-tree convolutional model too (the model named in each reason skips or lacks it the same way).
"""

import unittest

import numpy as np
import torch
from _helpers_transformers_common import import_common

from hf_soundnet import (
    SoundNetConfig,
    SoundNetFeatureExtractor,
    SoundNetForAudioClassification,
    SoundNetForPreTraining,
    SoundNetModel,
)


test_configuration_common = import_common("test_configuration_common")
test_modeling_common = import_common("test_modeling_common")
test_sequence_feature_extraction_common = import_common("test_sequence_feature_extraction_common")
ConfigTester = test_configuration_common.ConfigTester
ModelTesterMixin = test_modeling_common.ModelTesterMixin
floats_tensor = test_modeling_common.floats_tensor
ids_tensor = test_modeling_common.ids_tensor
SequenceFeatureExtractionTestMixin = test_sequence_feature_extraction_common.SequenceFeatureExtractionTestMixin


class SoundNetModelTester:
    """Tiny SoundNet: 2 blocks of 4 and 8 channels, heads of 5 objects and 3 scenes; 4,096-sample clips give 7 steps."""

    def __init__(self, parent, batch_size=3, num_samples=4096, num_labels=3, is_training=True):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = num_samples
        self.num_labels = num_labels
        self.is_training = is_training
        self.num_hidden_layers = 2  # conv blocks; `hidden_states` holds one output per block, no embedding output

    def get_config(self) -> SoundNetConfig:
        return SoundNetConfig(
            conv_channels=(4, 8),
            conv_kernel_sizes=(8, 4),
            conv_strides=(2, 2),
            conv_paddings=(4, 2),
            pool_kernel_sizes=(8, 2),
            num_object_classes=5,
            num_scene_classes=3,
            head_kernel_size=4,
            head_stride=2,
            num_labels=self.num_labels,
        )

    def prepare_config_and_inputs(self):
        input_values = floats_tensor([self.batch_size, self.seq_length], scale=256.0)
        attention_mask = torch.ones(self.batch_size, self.seq_length, dtype=torch.long)
        attention_mask[-1, self.seq_length * 3 // 4 :] = 0
        labels = ids_tensor([self.batch_size], self.num_labels)
        return self.get_config(), input_values, attention_mask, labels

    def prepare_config_and_inputs_for_common(self):
        config, input_values, attention_mask, _ = self.prepare_config_and_inputs()
        return config, {"input_values": input_values, "attention_mask": attention_mask}

    def create_and_check_model(self, config, input_values, attention_mask, labels):
        model = SoundNetModel(config).eval()
        with torch.no_grad():
            result = model(input_values, attention_mask=attention_mask)
        frames = int(model.get_output_lengths(self.seq_length)[-1])
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, config.conv_channels[-1], frames))

    def create_and_check_for_audio_classification(self, config, input_values, attention_mask, labels):
        model = SoundNetForAudioClassification(config).eval()
        with torch.no_grad():
            result = model(input_values, attention_mask=attention_mask, labels=labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.num_labels))
        self.parent.assertTrue(torch.isfinite(result.loss))


class SoundNetModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (SoundNetModel, SoundNetForPreTraining, SoundNetForAudioClassification)
    # No token embeddings (wav2vec2, AST, ResNet: the same).
    test_resize_embeddings = False
    # No attention layers (ResNet, ConvNext, RegNet: has_attentions = False).
    has_attentions = False
    # The mixin's export test lives in tests/exporters/ of transformers' git repository, not in its sdist
    # (see fetch_transformers_tests.STAND_INS); hf-soundnet's own export tests are tests/test_export.py.
    test_torch_exportable = False

    def setUp(self):
        self.model_tester = SoundNetModelTester(self)
        self.config_tester = ConfigTester(
            self, config_class=SoundNetConfig, has_text_modality=False, common_properties=[]
        )

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        batch_size = self.model_tester.batch_size
        # The same labels at every call: the mixin compares two calls' outputs (test_model_outputs_equivalence).
        generator = torch.Generator().manual_seed(0)
        if return_labels and model_class is SoundNetForAudioClassification:
            inputs_dict["labels"] = torch.randint(self.model_tester.num_labels, (batch_size,), generator=generator)
        if return_labels and model_class is SoundNetForPreTraining:  # its labels: the teachers' distributions
            config = self.model_tester.get_config()
            for name, classes in (("object", config.num_object_classes), ("scene", config.num_scene_classes)):
                logits = torch.randn(batch_size, 2, classes, generator=generator)
                inputs_dict[f"teacher_{name}_probs"] = logits.softmax(-1)
        return inputs_dict

    def _audio_features_prepare_config_and_inputs(self):
        # `get_audio_features` (SoundNetForPreTraining) needs the embedding head into a teacher's space.
        config, inputs_dict = super()._audio_features_prepare_config_and_inputs()
        config.embedding_dim = 8
        return config, inputs_dict

    def _audio_features_get_expected_num_hidden_states(self, model_tester=None):
        # One output per block up to the head's layer (the last one here), no embedding output (as in forward).
        return self.model_tester.num_hidden_layers

    def test_training(self):
        # The mixin skips base models by looking them up in transformers' own MODEL_MAPPING_NAMES, which a plugin's
        # registered classes are not in; SoundNetModel has no loss, as any in-tree base model.
        self.all_model_classes = (SoundNetForPreTraining, SoundNetForAudioClassification)
        super().test_training()

    def test_hidden_states_output(self):
        # As ResNet's and ConvNext's own override: hidden states are conv maps (batch, channels, frames), one per
        # block, not the mixin's (batch, seq_length, hidden_size) with an embedding output first.
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        frames = [int(n) for n in SoundNetModel(config).get_output_lengths(self.model_tester.seq_length)]
        expected = [(self.model_tester.batch_size, c, n) for c, n in zip(config.conv_channels, frames)]
        for model_class in self.all_model_classes:
            for via_config in (False, True):
                config = self.model_tester.get_config()
                kwargs = {} if via_config else {"output_hidden_states": True}
                config.output_hidden_states = via_config
                model = model_class(config).eval()
                with torch.no_grad():
                    hidden_states = model(**inputs_dict, **kwargs).hidden_states
                self.assertEqual(len(hidden_states), self.model_tester.num_hidden_layers)
                self.assertEqual([tuple(h.shape) for h in hidden_states], expected)

    @unittest.skip(reason="SoundNet has no input embeddings (ResNet and ConvNext skip it the same way)")
    def test_model_get_set_embeddings(self):
        pass

    def test_config(self):
        tester = self.config_tester
        tester.create_and_test_config_common_properties()
        tester.create_and_test_config_to_json_string()
        tester.create_and_test_config_to_json_file()
        tester.create_and_test_config_from_and_save_pretrained()
        tester.create_and_test_config_from_and_save_pretrained_subfolder()
        tester.create_and_test_config_from_and_save_pretrained_composite()
        tester.create_and_test_config_with_num_labels()
        tester.create_and_test_config_from_pretrained_custom_kwargs()
        tester.check_config_can_be_init_without_params()
        # Not run: check_config_arguments_init, whose table (tests/utils/test_configuration_utils.py) is not in the
        # sdist; it checks that PreTrainedConfig's common kwargs are accepted, which SoundNetConfig inherits.

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_for_audio_classification(self):
        self.model_tester.create_and_check_for_audio_classification(*self.model_tester.prepare_config_and_inputs())


class SoundNetFeatureExtractionTester:
    """As `Wav2Vec2FeatureExtractionTester`: a batch of mono clips of increasing length."""

    def __init__(self, parent, batch_size=7, min_seq_length=400, max_seq_length=2000, feature_size=1):
        self.parent = parent
        self.batch_size = batch_size
        self.min_seq_length = min_seq_length
        self.max_seq_length = max_seq_length
        self.seq_length_diff = (max_seq_length - min_seq_length) // (batch_size - 1)
        self.feature_size = feature_size

    def prepare_feat_extract_dict(self):
        # No repetition of short clips and no scaling: the mixin's padding checks compare against the raw lengths
        # and values (wav2vec2's tester turns `do_normalize` off for the same reason).
        return {
            "feature_size": self.feature_size,
            "sampling_rate": 22050,
            "padding_value": 0.0,
            "repeat_to_seconds": 0,
            "input_scale": 1.0,
            "return_attention_mask": True,
        }

    def prepare_inputs_for_common(self, equal_length=False, numpify=False):
        rng = np.random.default_rng(0)
        if equal_length:
            lengths = [self.max_seq_length] * self.batch_size
        else:
            lengths = range(self.min_seq_length, self.max_seq_length, self.seq_length_diff)
        speech_inputs = [rng.uniform(-1, 1, size=n).astype(np.float32).tolist() for n in lengths]
        if numpify:
            speech_inputs = [np.asarray(x) for x in speech_inputs]
        return speech_inputs


class SoundNetFeatureExtractionTest(SequenceFeatureExtractionTestMixin, unittest.TestCase):
    feature_extraction_class = SoundNetFeatureExtractor

    def setUp(self):
        self.feat_extract_tester = SoundNetFeatureExtractionTester(self)
