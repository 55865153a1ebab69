"""The zero-shot model's processor: the teacher's tokenizer and [`SoundNetFeatureExtractor`] in one object, like
transformers' `ClapProcessor`, and the one rule for tokenizing prompts shared with the image-text teachers.

Prompts are padded to a fixed `max_length` (the text model's `max_position_embeddings`) and truncated to it, the way
SigLIP was trained (its text tower pools the last position, so the padding changes its answer); CLIP pools the
end-of-text token and gives the same answer at any padding. The audio's sample mask is returned as
`audio_attention_mask`, beside the text's `attention_mask`, as both go to one forward.
"""

import torch
from transformers import BatchFeature, ProcessorMixin

from .feature_extraction_soundnet import SoundNetFeatureExtractor


def tokenize_prompts(tokenizer, prompts: list[str], max_length: int | None) -> dict[str, torch.Tensor]:
    """
    The text inputs of `prompts`: `input_ids` and `attention_mask` `(num_prompts, max_length)`, padded to
    `max_length` and truncated to it (padded to the longest prompt when `max_length` is None).
    """
    padding = {"padding": "max_length", "max_length": max_length} if max_length else {"padding": True}
    return dict(tokenizer(list(prompts), truncation=True, return_tensors="pt", **padding))


class SoundNetTextAudioProcessor(ProcessorMixin):
    """
    The teacher's tokenizer and SoundNet's feature extractor.

    Args:
        feature_extractor ([`SoundNetFeatureExtractor`]): decodes nothing; scales, repeats and pads waveforms.
        tokenizer: the image-text teacher's tokenizer.
        text_max_length (`int`, *optional*): the length prompts are padded to (see the module docstring).
    """

    def __init__(self, feature_extractor=None, tokenizer=None, text_max_length: int | None = None, **kwargs):
        self.text_max_length = text_max_length
        super().__init__(feature_extractor, tokenizer, **kwargs)

    @classmethod
    def from_student_and_teacher(
        cls, student_name_or_path: str, teacher_name_or_path: str, text_max_length: int | None = None
    ) -> "SoundNetTextAudioProcessor":
        """The student's saved feature extractor (a default one if it saved none) and the teacher's tokenizer;
        `text_max_length` defaults to the teacher's `text_config.max_position_embeddings`."""
        from transformers import AutoConfig, AutoTokenizer

        try:
            feature_extractor = SoundNetFeatureExtractor.from_pretrained(student_name_or_path)
        except OSError:
            feature_extractor = SoundNetFeatureExtractor()
        tokenizer = AutoTokenizer.from_pretrained(teacher_name_or_path)
        if text_max_length is None:
            text_config = getattr(AutoConfig.from_pretrained(teacher_name_or_path), "text_config", None)
            text_max_length = getattr(text_config, "max_position_embeddings", None)
        return cls(feature_extractor, tokenizer, text_max_length=text_max_length)

    def __call__(
        self, text: str | list[str] | None = None, audio=None, sampling_rate: int | None = None, **kwargs
    ) -> BatchFeature:
        """
        Args:
            text (`str` or `list[str]`, *optional*): prompts, tokenized by [`tokenize_prompts`].
            audio (*optional*): what [`SoundNetFeatureExtractor`] takes (arrays, lists of them, `datasets` audio).
            sampling_rate (`int`, *optional*): the rate of array inputs.

        Returns:
            [`BatchFeature`] with `input_ids` and `attention_mask` `(num_prompts, text_max_length)` for text, and
            `input_values` `(batch_size, num_samples)` and `audio_attention_mask` for audio.
        """
        if text is None and audio is None:
            raise ValueError("Give `text`, `audio` or both.")
        data = {}
        if text is not None:
            data.update(
                tokenize_prompts(self.tokenizer, [text] if isinstance(text, str) else text, self.text_max_length)
            )
        if audio is not None:
            features = self.feature_extractor(audio, sampling_rate=sampling_rate, return_tensors="pt", **kwargs)
            data["input_values"] = features["input_values"]
            if "attention_mask" in features:
                data["audio_attention_mask"] = features["attention_mask"]
        return BatchFeature(data=data, tensor_type="pt")

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs):
        """[`ProcessorMixin.save_pretrained`] (`processor_config.json`, the tokenizer's files), and the feature
        extractor's own `preprocessor_config.json` too, which `soundnet push` and tools reading a SoundNet checkpoint
        look for."""
        result = super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        self.feature_extractor.save_pretrained(save_directory)
        return result

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "input_values", "audio_attention_mask"]


__all__ = ["SoundNetTextAudioProcessor", "tokenize_prompts"]
