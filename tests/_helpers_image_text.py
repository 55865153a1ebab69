"""Test helpers for image-text teachers: tiny randomly initialised CLIP and SigLIP models (16x16 images, one layer per
tower) saved with a PIL image processor and a word-level tokenizer built offline, and corpora whose embedding
teacher depends on the sound."""

import math
from pathlib import Path

import numpy as np
import torch


# The tokenizer's words: the prompt "a photo of a {label}." and the labels the tests use ("." is unknown).
WORDS = ["[PAD]", "[UNK]", "[EOS]", "a", "photo", "of", "dog", "cat", "train", "forest", "tone", "sea"]
MAX_TEXT_LENGTH = 12


def make_tokenizer():
    """A word-level `PreTrainedTokenizerFast` over `WORDS` that appends `[EOS]` (CLIP pools the end-of-text token)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="$A [EOS]", special_tokens=[("[EOS]", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        eos_token="[EOS]",
        model_max_length=MAX_TEXT_LENGTH,
    )


def make_tiny_image_text_model(directory: Path, family: str, seed: int = 0, logit_scale: float = 10.0) -> Path:
    """
    A randomly initialised `CLIPModel` (projection 8) or `SiglipModel` (embedding 16), with `exp(logit_scale)` set to
    `logit_scale` (and a SigLIP `logit_bias` of -3), saved with its image processor and tokenizer in `directory`.
    """
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        SiglipConfig,
        SiglipImageProcessorPil,
        SiglipModel,
    )

    text = {
        "vocab_size": len(WORDS),
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": MAX_TEXT_LENGTH,
        "pad_token_id": 0,
        "eos_token_id": 2,
        "bos_token_id": None,
    }
    vision = {
        "image_size": 16,
        "patch_size": 8,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    }
    torch.manual_seed(seed)
    if family == "clip":
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=8))
        processor = CLIPImageProcessorPil(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    elif family == "siglip":
        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
        processor = SiglipImageProcessorPil(size={"height": 16, "width": 16})
        with torch.no_grad():
            model.logit_bias.fill_(-3.0)
    else:
        raise ValueError(family)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(logit_scale))
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    make_tokenizer().save_pretrained(directory)
    return directory


def source_directions(num_sources: int, dim: int, seed: int = 0) -> np.ndarray:
    """`(num_sources, dim)` random unit vectors: the 'image embedding' of each sound source."""
    vectors = np.random.default_rng(seed).standard_normal((num_sources, dim))
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def write_embedding_corpus(
    corpus_dir: Path,
    sources: dict[str, np.ndarray],
    clip_seconds: float,
    step_seconds: float,
    dim: int = 8,
    part: tuple[float, float] = (0.0, 1.0),
    records_per_shard: int = 8,
    noise: float = 0.3,
    directions: np.ndarray | None = None,
) -> list[dict]:
    """
    A corpus written with the library's writer with a classifier teacher `objects` (peaked on the source's index) and
    an embedding teacher `clip` (dimension `dim`): each step's embedding is its source's direction plus Gaussian
    noise, normalised, stored as float16. Records carry `label` (the source's index) for the tests, not written.
    `directions` `(num_sources, dim)` unit vectors replace the random source directions.
    """
    from _helpers_corpus import peaked, write_labelled_corpus

    from hf_soundnet.pretraining.corpus import CorpusInfo, TeacherInfo

    if directions is None:
        directions = source_directions(len(sources), dim)
    info = CorpusInfo(
        teachers=[
            TeacherInfo("objects", "peaked", len(sources)),
            TeacherInfo("clip", "directions", dim, kind="embedding"),
        ],
        step_seconds=step_seconds,
    )
    rng = np.random.default_rng(1)

    def teacher_rows(label: int, steps: int) -> dict[str, np.ndarray]:
        embeddings = directions[label] + noise * rng.standard_normal((steps, dim)) / np.sqrt(dim)
        embeddings /= np.linalg.norm(embeddings, axis=-1, keepdims=True)
        return {"teacher_objects": peaked(steps, len(sources), label), "teacher_clip": embeddings.astype(np.float16)}

    return write_labelled_corpus(corpus_dir, sources, info, teacher_rows, clip_seconds, records_per_shard, part=part)
